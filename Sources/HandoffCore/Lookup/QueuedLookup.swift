import Synchronization

/// One lookup of a `LookupQueue`, moved on by whichever thread has news for
/// it: the caller's (cache, in-flight cap, single flight, breaker), the I/O
/// thread's (each attempt's answer, retry backoffs, its deadline) or the
/// thread of a leader it follows. The stages are the synchronous lookup's,
/// in the same order, with the same results; only the waiting is not done
/// by the caller.
///
/// It completes exactly once, whichever comes first: its answer, its
/// deadline or a cancel (`claim`). A leader cancelled early goes on until
/// its request ends, for the lookups following it and for the cache.
final class QueuedLookup: @unchecked Sendable {
    // @unchecked: `joins` is only touched by the one thread moving the
    // lookup on at a time (hand-offs go through the flight's lock or the
    // loop's inbox); everything else is immutable or atomic.
    let target: LookupTarget
    let tag: UInt64
    private let queue: LookupQueue
    private let client: HandoffClient
    private let deadline: Deadline
    private let timeoutMs: Int
    private let started: ContinuousClock.Instant

    private let claimed = Atomic<Bool>(false)
    private let holdsPlace = Atomic<Bool>(false)
    /// Sending requests for a flight: its place is given back when they end.
    private let leading = Atomic<Bool>(false)
    private let followed = Atomic<Bool>(false)
    private let cacheHit = Atomic<Bool>(false)
    private var joins = 0
    /// Set once, by the queue, under its lock, before anything can complete it.
    var serial: UInt64 = 0

    init(_ target: LookupTarget, tag: UInt64, queue: LookupQueue, timeoutMs: Int, started: ContinuousClock.Instant) {
        self.target = target
        self.tag = tag
        self.queue = queue
        client = queue.client
        self.timeoutMs = timeoutMs
        self.started = started
        deadline = Deadline(milliseconds: timeoutMs, from: started)
    }

    // MARK: on the caller's thread

    func begin(_ live: ClientRuntime) {
        // Cancelled between admission and here: nothing to send.
        guard !claimed.load(ordering: .acquiring) else { return }
        if let cached = live.cache?.get(target) {
            cacheHit.store(true, ordering: .relaxed)
            return complete(cached, live)
        }
        guard InFlightLimit.enter(limit: client.config.maxInFlight) else {
            live.stats.recordRejectedInFlight()
            return complete(client.inFlightRefusal(), live)
        }
        holdsPlace.store(true, ordering: .releasing)
        live.keepWarm.noteUse(queued: true)
        join(live)
    }

    func cancel() {
        let live = client.runtime.value
        complete(client.finish(.init(status: .cancelled, errorMessage: "cancelled before it completed (handoff_queue_cancel or handoff_queue_free)")), live)
    }

    // MARK: the stages

    private func join(_ live: ClientRuntime) {
        guard !claimed.load(ordering: .acquiring) else { return leavePlace() }
        joins += 1
        guard let flight = live.flights.join(target, onResult: { [self] result in self.followed(result, live) }) else {
            followed.store(true, ordering: .relaxed)
            // A follower's own deadline holds, whatever the leader's is.
            // Weak: a follower completed by its leader must not keep itself,
            // its queue and client alive until this timer, up to 600 s on.
            if !live.loop.schedule(at: deadline.end, { [weak self, weak live] in
                guard let self, let live else { return }
                self.complete(self.timedOut(), live)
            }) {
                complete(noLoop(), live)
            }
            return
        }
        followed.store(false, ordering: .relaxed)
        let permit = live.breaker.permit()
        guard permit != .rejected else {
            let refusal = client.breakerRefusal()
            live.flights.finish(flight, refusal)
            return complete(refusal, live)
        }
        leading.store(true, ordering: .releasing)
        attempt(0, flight, permit, live, hedge: client.hedging(live))
    }

    /// The result of the leader this lookup followed.
    private func followed(_ result: HandoffResult, _ live: ClientRuntime) {
        guard !claimed.load(ordering: .acquiring) else { return }
        // The leader ran out of its own, shorter deadline; this lookup
        // still has time to ask for itself.
        if result.status == .timeout, joins < Limits.maxFlightJoins, deadline.remainingMs >= Limits.minRetryAttemptMs {
            return join(live)
        }
        complete(result, live)
    }

    /// One attempt of 1 + `retries`, like the synchronous lookup's; the key
    /// files are checked on the I/O thread, before the request goes out.
    private func attempt(_ number: Int, _ flight: Flight, _ permit: CircuitBreaker.Permit, _ live: ClientRuntime,
                         hedge: Hedge?, reloadedKey: Bool = false) {
        let remaining = deadline.remainingMs
        guard remaining > 0 else { return conclude(.init(status: .timeout, errorMessage: timeoutMessage), flight, permit, live) }
        guard let url = client.url?.url(for: target) else {
            return conclude(.init(status: .invalidArgument, errorMessage: HandoffClient.noLookupsRefusal), flight, permit, live)
        }
        let request = HTTPRequest(url: url, timeoutMs: remaining, hedge: hedge)
        live.stats.recordRequest(retry: number > 0)
        let queue = self.queue
        // The secrets' version the request goes out with, and when it went
        // (hedge_after_ms = auto measures the API, not a wait for room in
        // the loop); set and read on the I/O thread, which runs `before` and
        // the completion.
        let sent = Locked(SentRequest())
        let before: CurlLoop.Action = { [client] in
            client.refreshKeys(live, logTo: queue)
            sent.withLock { $0 = SentRequest(secretsVersion: live.transport.secretsVersion, at: .now) }
        }
        let started = live.loop.start(request, deadline: deadline, before: before) { [self] http in
            let sentWith = sent.withLock { $0.secretsVersion }, sentAt = sent.withLock { $0.at }
            live.latencies.map { HandoffClient.recordLatency(http, since: sentAt, in: $0) }
            var outcome = ResponseDecoder.outcome(http, timeoutMs: timeoutMs, flattener: client.flattener)
            outcome.errorMessage = client.redacted(outcome.errorMessage)
            if HandoffClient.isSecretRefusal(outcome.status, http), !reloadedKey,
               client.secretsRotated(since: sentWith, live, logTo: queue),
               deadline.remainingMs >= Limits.minRetryAttemptMs {
                return self.attempt(number, flight, permit, live, hedge: hedge, reloadedKey: true)
            }
            if number < client.config.retries, http.isRetryable {
                let backoff = HandoffClient.backoffMs(attempt: number)
                if deadline.remainingMs >= backoff + Limits.minRetryAttemptMs {
                    client.log(.info, "lookup \(target.logDescription): \(outcome.status.nameString) (\(outcome.errorMessage)); retrying in \(backoff) ms", to: queue)
                    let due = ContinuousClock.now.advanced(by: .milliseconds(backoff))
                    if live.loop.schedule(at: due, { [self] in self.attempt(number + 1, flight, permit, live, hedge: hedge, reloadedKey: reloadedKey) }) { return }
                }
            }
            conclude(outcome, flight, permit, live)
        }
        if !started { conclude(noLoopOutcome, flight, permit, live) }
    }

    /// A struct, not a tuple (see SocketLedger.Entry).
    private struct SentRequest {
        var secretsVersion = 0
        var at = ContinuousClock.now
    }

    private func conclude(_ outcome: Renderer.Outcome, _ flight: Flight, _ permit: CircuitBreaker.Permit, _ live: ClientRuntime) {
        let result = client.concluded(target, outcome, permit: permit, live, logTo: queue)
        live.flights.finish(flight, result)
        leading.store(false, ordering: .releasing)
        leavePlace()
        complete(result, live)
    }

    // MARK: the end

    /// The one completion: counted, logged (to the queue) and handed to it.
    private func complete(_ result: HandoffResult, _ live: ClientRuntime) {
        if !leading.load(ordering: .acquiring) { leavePlace() }
        guard !claimed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var result = result
        result.elapsedUs = HandoffClient.microseconds(since: started)
        live.stats.recordLookup(result.status, elapsedUs: result.elapsedUs, cacheHit: cacheHit.load(ordering: .relaxed),
                                shared: followed.load(ordering: .relaxed))
        switch result.status {
        case .ok:
            client.log(.debug, "lookup \(target.logDescription): ok, \(result.flat.count) entries (\(result.elapsedUs / 1000) ms, queued)", to: queue)
        case .cancelled:
            client.log(.debug, "lookup \(target.logDescription): cancelled (\(result.elapsedUs / 1000) ms, queued)", to: queue)
        default:
            client.log(.warning, "lookup \(target.logDescription): \(result.status.nameString) \(result.errorMessage) (\(result.elapsedUs / 1000) ms, queued)", to: queue)
        }
        queue.deliver(self, result)
    }

    /// Gives back the in-flight place, once.
    private func leavePlace() {
        if holdsPlace.exchange(false, ordering: .acquiringAndReleasing) { InFlightLimit.leave() }
    }

    private var timeoutMessage: String { "no complete answer within \(timeoutMs) ms" }

    private func timedOut() -> HandoffResult {
        client.finish(.init(status: .timeout, errorMessage: timeoutMessage))
    }

    private var noLoopOutcome: Renderer.Outcome {
        .init(status: .unavailable, errorMessage: "the library's I/O thread could not be started")
    }

    private func noLoop() -> HandoffResult { client.finish(noLoopOutcome) }
}
