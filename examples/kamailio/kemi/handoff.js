// KEMI version of ../kamailio.cfg: look the handoff up, route by handoff_to;
// with POLYAI_CARRIER defined, reserve a DNI for new calls from the carrier.

var QUEUES = /^(billing|sales|support)$/;
// The defines, read at each process's first request: while the script
// loads, KSR.kx.get_def() gives false whether a define is set or not.
var DEFS = null;

function defs() {
	if (DEFS === null) {
		DEFS = {
			// -A ASYNC=1: lookups that suspend the transaction instead of blocking the worker.
			async: define_value("ASYNC") !== null,
			// -A 'POLYAI_CARRIER="host:port"': where calls to PolyAI's numbers go.
			carrier: define_value("POLYAI_CARRIER"),
			handoffUser: define_value("HANDOFF_USER") || "handoff",
			queueHost: define_value("QUEUE_HOST")
		};
	}
	return DEFS;
}

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
	// Calls the agent hands back come to sip:handoff@...; any other INVITE is a new call.
	if (defs().carrier !== null && KSR.pv.get("$rU") !== defs().handoffUser) {
		reserve();
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
	if (defs().async) {
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

// A new call from the carrier: reserve a DNI (one blocking POST, up to
// timeout_ms) and send the call to it, else to the fallback queue.
function reserve() {
	if (KSR.tm.t_newtran() < 0) {
		KSR.sl.sl_reply_error();
		return;
	}
	KSR.tm.t_reply(100, "Reserving a number");
	KSR.textops.remove_hf_re("^X-PolyAI-");
	// The module evaluates the variables itself, after cutting the pairs:
	// never paste their values into the string ("caller=" + from), where a
	// ';' in them would start a pair of the caller's.
	var rc = KSR.polyai_handoff.reserve_dni(KSR.pv.get("$ci"),
		"caller=$fU; caller_name=$(fn{s.unquote}); called=$rU; customer.language=en-GB");
	if (rc === 1) {
		KSR.pv.sets("$ru", "sip:" + KSR.pv.get("$polyai(dni)") + "@" + defs().carrier);
	} else {
		KSR.hdr.append("X-PolyAI-Reservation-Status: " + KSR.pv.get("$polyai(handoff_status)") + "\r\n");
		KSR.pv.sets("$ru", "sip:fallback@" + defs().queueHost);
	}
	KSR.info("reserve " + KSR.pv.get("$ci") + ": " + KSR.pv.get("$polyai(handoff_status)") +
		" (rc " + rc + ") -> " + KSR.pv.get("$ru") + "\n");
	if (KSR.tm.t_relay() < 0) {
		KSR.sl.sl_reply_error();
	}
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
	KSR.pv.sets("$ru", "sip:" + queue + "@" + defs().queueHost);
	if (KSR.tm.t_relay() < 0 && how !== "resumed") {
		KSR.sl.sl_reply_error();
	}
}

// A define's value without its quotes, or null when it is not set (or set
// empty: get_def() gives "" for both).
function define_value(name) {
	var value = KSR.kx.get_def(name);
	return typeof value === "string" && value !== "" ? value.replace(/^"|"$/g, "") : null;
}
