/// Runs every stage of a lookup once, on canned data, when the first client
/// of the process is made: decoding, flattening, rendering, logging checks,
/// counters, single flight, timers, reservations, warm-ups. The Swift runtime sets up
/// lazy globals (swift_once) and generic type metadata the first time a path
/// runs, under process-wide locks of its own that no fork handler can take;
/// a fork() at that instant leaves one held and the child hangs on that path.
/// Done here, the first run is over before any lookup: a host that forks
/// after making a client (Kamailio, OpenSIPS, Asterisk's System()) cannot
/// catch another thread inside one.
import Synchronization

public enum PathWarmUp {
    /// The first access runs it, once per process (a child has it done).
    public static let done: Bool = {
        _ = ForkGeneration.current
        _ = CurlRuntime.isReady
        _ = InFlightLimit.current
        _ = Log.isEnabled(.debug)
        Log.warmUp()
        _ = SecretRedactor.none
        _ = TextRules.byteOrderMark
        let options = RenderOptions()
        let flattener = Flattener(options: options)
        let renderer = Renderer(options: options)
        let body = Array(#"{"id":"warm-up","shared_id":"warm-up","data":{"a":"b","n":1.50,"c":{"d":[true,null,"\u00e9"]}}}"#.utf8)
        // Strings JSONStringRepair mends: a lone surrogate, bytes that are not UTF-8.
        let mended = Array(#"{"id":"warm-up","data":{"a":"\ud800","b":""#.utf8) + [0xFF, 0xFE] + Array(#""}}"#.utf8)
        let outcomes: [HTTPOutcome] = [
            .response(status: 200, body: body), .response(status: 200, body: mended), .response(status: 404, body: Array(#"{"error_message":"x"}"#.utf8)),
            .response(status: 418, body: []), .timedOut, .failed("x", retryable: true), .notConnected("x"),
            .bodyTooLarge(status: 200, limit: 1), .malformed("x"),
        ]
        for http in outcomes {
            let rendered = renderer.result(ResponseDecoder.outcome(http, timeoutMs: 1, flattener: flattener)).rendered()
            _ = rendered.headerBlock.utf8.count + rendered.variablesBlock.utf8.count
            _ = ReservationDecoder.reservation(http, timeoutMs: 1)
        }
        _ = ReservationDecoder.reservation(.response(status: 200, body: Array(#"{"dni":"+15550100"}"#.utf8)), timeoutMs: 1)
        _ = ReservationAttributes.body(sharedID: "warm-up", json: Array(#"{"a":{"b":"c"}}"#.utf8))
        var attributes = AttributesBuilder()
        try? attributes.set(Array("a.b".utf8), Array("c".utf8))
        _ = attributes.json
        _ = LookupTarget.validated(Array("warm-up".utf8), as: .sharedID)
        _ = LookupTarget.validated([1, 0xFF], as: .conversationID)
        let cache = ResultCache(ttlMs: 1, capacity: 2)
        let cached = renderer.result(ResponseDecoder.outcome(outcomes[0], timeoutMs: 1, flattener: flattener))
        cache.put(.sharedID("warm-up"), cached)
        _ = cache.get(.sharedID("warm-up"))
        _ = cache.get(.conversationID("warm-up"))
        _ = RequestURL.percentEncoded("warm up/é")
        _ = SecretRedactor([("warm-up-secret", SecretRedactor.apiKeyPlaceholder)]).redact("warm-up-secret")
        let stats = ClientStats()
        stats.recordLookup(.ok, elapsedUs: 1, requests: 1)
        stats.recordReservation(.ok, requests: 1)
        _ = stats.snapshot(breakerOpen: false).prometheus
        let flights = SingleFlight()
        if case .leader(let flight) = flights.join(.sharedID("warm-up")) {
            flights.finish(flight, renderer.result(.init(status: .timeout, errorMessage: "x")))
        }
        var timers = TimerHeap<Int>()
        timers.push(1, due: .now)
        _ = timers.popDue(at: .now.advanced(by: .seconds(1)))
        _ = Deadline(milliseconds: 1).remainingMs
        let latencies = LatencyWindow()
        for ms in 0..<Limits.adaptiveHedgeMinSamples { latencies.record(ms: ms) }
        _ = latencies.delayMs
        CurlLoop.warmUpTypes()
        ConnectionPool.warmUpTypes()
        return true
    }()

    /// The queue's path, once per process, with the first client: a queue
    /// made, a refused lookup through it, taken, freed (an eventfd opened
    /// and closed; nothing is sent, no thread started).
    static func warmUpQueue(_ client: HandoffClient) {
        guard !queueWarmed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        guard let queue = LookupQueue(client: client, announced: false) else { return }
        _ = queue.lookup(nil, as: .sharedID, timeoutMs: nil, tag: 0, quietly: true)
        _ = queue.next()
        queue.close()
    }

    private static let queueWarmed = Atomic<Bool>(false)

    /// A found result with nested data, for the C edge to run its own
    /// result path once.
    public static func sample() -> HandoffResult {
        let options = RenderOptions()
        let body = Array(#"{"id":"warm-up","shared_id":"warm-up","data":{"a":"b","c":{"d":[1,"e"]}}}"#.utf8)
        return Renderer(options: options).result(ResponseDecoder.outcome(.response(status: 200, body: body), timeoutMs: 1,
                                                                         flattener: Flattener(options: options)))
    }
}
