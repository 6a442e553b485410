// KEMI version of ../kamailio.cfg: look the handoff up, route by handoff_to.

var QUEUES = /^(billing|sales|support)$/;

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

	// 1 on success, -<status> on failure; the X-PolyAI-* headers are added either way.
	var rc;
	var sharedId = KSR.hdr.get("X-Shared-Id");
	var conversationId = KSR.hdr.get("X-Conversation-Id");
	if (sharedId !== null) {
		rc = KSR.polyai_handoff.lookup(sharedId);
	} else if (conversationId !== null) {
		rc = KSR.polyai_handoff.lookup_id(conversationId);
	} else {
		rc = KSR.polyai_handoff.lookup("");
	}

	// A failed lookup goes to the fallback queue; a found one by handoff_to,
	// to queues we know, else to the default queue.
	var handoffTo = KSR.pv.get("$polyai(handoff_to)");
	var queue = rc < 0 ? "fallback" : (handoffTo !== null && QUEUES.test(handoffTo)) ? handoffTo : "default";
	KSR.info("handoff " + KSR.pv.get("$ci") + ": " + KSR.pv.get("$polyai(handoff_status)") +
		" (rc " + rc + ") -> queue " + queue + "\n");

	var host = String(KSR.kx.get_def("QUEUE_HOST")).replace(/^"|"$/g, "");
	KSR.pv.sets("$ru", "sip:" + queue + "@" + host);
	if (KSR.tm.t_relay() < 0) {
		KSR.sl.sl_reply_error();
	}
}
