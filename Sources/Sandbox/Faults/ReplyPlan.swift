/// A reply while faults are being folded into it, before the body exists.
/// The body is rendered last because `pad_bytes` changes the handoff JSON
/// and `body` replaces it.
struct ReplyPlan {
    var status = 200
    var extraHeaders: [HeaderField] = []
    var rawBody: [UInt8]?
    var padBytes = 0
    var delayMs = 0
    var delivery: Delivery = .whole
    var echoesKey = false

    init(applying faults: [Fault]) {
        for fault in faults { fault.apply(to: &self) }
    }

    /// The finished reply; `handoffBody` renders the fixture with padding.
    func reply(handoffBody: (Int) -> [UInt8]) -> Reply {
        Reply(
            status: status,
            body: rawBody ?? handoffBody(padBytes),
            extraHeaders: extraHeaders,
            delayMs: delayMs,
            delivery: delivery,
            echoesKey: echoesKey
        )
    }
}
