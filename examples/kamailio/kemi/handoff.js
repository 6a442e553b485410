// KEMI version of ../kamailio.cfg: look the handoff up, route by handoff_to.

var QUEUES = /^(billing|sales|support)$/;
// -A ASYNC=1: lookups that suspend the transaction instead of blocking the worker.
var ASYNC = KSR.kx.get_def("ASYNC") !== null;

function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		return;
	}
	if (KSR.siputils.has_totag() > 0) {
		KSR.tm.t_relay();
		return;
	}
	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) {
			KSR.tm.t_relay();
		}
		return;
	}
	if (!KSR.is_INVITE()) {
		KSR.sl.sl_send_reply(405, "Method Not Allowed");
		return;
	}
	// The transaction first, so that retransmissions are absorbed.
	if (KSR.tm.t_newtran() < 0) {
		KSR.sl.sl_reply_error();
		return;
	}
	KSR.tm.t_reply(100, "Looking up the handoff");

	var sharedId = KSR.hdr.get("X-Shared-Id");
	var conversationId = KSR.hdr.get("X-Conversation-Id");
	var rc;
	if (ASYNC) {
		// 0: suspended; ksr_handoff_resume() routes the call when the lookup
		// completes, and this function must return now. Else (-11: too many
		// lookups waiting, async_max_pending) it was not handed over.
		if (sharedId !== null) {
			rc = KSR.polyai_handoff.lookup_async(sharedId, "ksr_handoff_resume");
		} else if (conversationId !== null) {
			rc = KSR.polyai_handoff.lookup_id_async(conversationId, "ksr_handoff_resume");
		} else {
			rc = KSR.polyai_handoff.lookup_async("", "ksr_handoff_resume");
		}
		if (rc === 0) {
			return;
		}
		route_to_queue("fallback", "not suspended", rc);
		return;
	}

	// 1 on success, -<status> on failure; the X-PolyAI-* headers are added either way.
	if (sharedId !== null) {
		rc = KSR.polyai_handoff.lookup(sharedId);
	} else if (conversationId !== null) {
		rc = KSR.polyai_handoff.lookup_id(conversationId);
	} else {
		rc = KSR.polyai_handoff.lookup("");
	}
	route_to_queue(rc < 0 ? "fallback" : queue_of_found(), "sync", rc);
}

// Run by the module when an asynchronous lookup completed: the headers and
// $polyai(key) are there, as after KSR.polyai_handoff.lookup().
function ksr_handoff_resume() {
	var ok = KSR.pv.get("$polyai(handoff_status)") === "ok";
	route_to_queue(ok ? queue_of_found() : "fallback", "resumed", null);
}

// A found handoff goes by handoff_to, to queues we know, else to the default queue.
function queue_of_found() {
	var handoffTo = KSR.pv.get("$polyai(handoff_to)");
	return handoffTo !== null && QUEUES.test(handoffTo) ? handoffTo : "default";
}

function route_to_queue(queue, how, rc) {
	KSR.info("handoff " + KSR.pv.get("$ci") + ": " + how + ": " + KSR.pv.get("$polyai(handoff_status)") +
		" (rc " + rc + ") -> queue " + queue + "\n");
	var host = String(KSR.kx.get_def("QUEUE_HOST")).replace(/^"|"$/g, "");
	KSR.pv.sets("$ru", "sip:" + queue + "@" + host);
	if (KSR.tm.t_relay() < 0 && how !== "resumed") {
		KSR.sl.sl_reply_error();
	}
}
