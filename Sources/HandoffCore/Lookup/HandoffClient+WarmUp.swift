#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Connections made before the first lookup: DNS, TCP, TLS, a proxy's
/// tunnel and HTTP/2's settings, so that the lookup costs one round trip.
/// Nothing is sent: libcurl's pre-request callback stops each transfer
/// where its request would go out, and the API logs nothing.
///
/// libcurl keeps such a connection only when it is multiplexed (HTTP/2,
/// which the API's load balancer offers by ALPN); an HTTP/1.1 one it
/// closes, and the warm-up then leaves only the DNS answer behind (a TLS
/// 1.3 session ticket arrives after the handshake, too late to be kept).
public struct WarmUpReport: Sendable, Equatable {
    public let status: HandoffStatus
    /// Connections made, and those of them kept open for lookups.
    public let made: Int
    public let kept: Int
    public let message: String
}

extension HandoffClient {
    /// Warms `warm_connections` connections (at least 1) of this process,
    /// waiting at most `timeoutMs` (nil or <= 0: timeout_ms). They go to the
    /// idle slots that this process's lookups take, the calling thread's
    /// first. A forked child warms its own: it never uses the parent's.
    public func warm(timeoutMs: Int? = nil) -> WarmUpReport {
        guard let url else { return refusedWarmUp(Self.noLookupsRefusal) }
        guard let timeout = effectiveTimeout(timeoutMs) else { return refusedWarmUp(Self.timeoutRefusal(timeoutMs)) }
        let started = ContinuousClock.now
        let address = url.url(for: .sharedID("warm-up"))
        let request = HTTPRequest(url: address, timeoutMs: timeout)
        let slots = max(config.warmConnections, 1)
        var count = slots
        let report = runtime.withValue { live -> WarmUpReport in
            // The I/O thread's connection warms on its thread meanwhile.
            let loopWarm = live.queued.load(ordering: .acquiring) ? QueueWarmUp(live.loop, request) : nil
            var outcomes = live.transport.warm(request, count: slots)
            if outcomes.contains(where: \.kept) { live.keepWarm.start() }
            if let loopWarm {
                let warmed = loopWarm.wait()
                outcomes.append(warmed)
                count += 1
                if warmed.kept { live.keepWarm.start(queued: true) }
            }
            live.stats.recordWarmUp()
            return Self.summary(outcomes, of: count, timeoutMs: timeout)
        }
        let ms = Self.microseconds(since: started) / 1000
        switch report.status {
        case .ok where report.kept == report.made:
            log(.info, "warm-up: \(report.kept) of \(count) connections ready (\(ms) ms)")
        case .ok:
            log(.info, "warm-up: \(report.made) of \(count) connections made in \(ms) ms; the server speaks HTTP/1.1, so libcurl closed them unused: only the DNS answer is kept")
        default:
            log(.warning, "warm-up: \(report.status.nameString) \(redacted(report.message)) (\(report.made) of \(count) connections made, \(ms) ms)")
        }
        return WarmUpReport(status: report.status, made: report.made, kept: report.kept, message: redacted(report.message))
    }

    /// A queue was made on this client (handoff_queue_new): from now on the
    /// warm-ups of this process also warm the I/O thread's connection, which
    /// carries queued lookups (over HTTP/2 all of them). With
    /// `warm_connections` > 0 that warm-up starts now, on the I/O thread,
    /// and the caller does not wait for it (the queue API never blocks).
    func queueMade() {
        runtime.withValue { live in
            guard !live.queued.exchange(true, ordering: .acquiringAndReleasing), config.warmConnections > 0,
                  let address = url?.url(for: .sharedID("warm-up")) else { return }
            let keepWarm = live.keepWarm
            let stats = live.stats
            _ = live.loop.warm(HTTPRequest(url: address, timeoutMs: config.timeoutMs), deadline: Deadline(milliseconds: config.timeoutMs)) { _, kept in
                stats.recordWarmUp()
                if kept { keepWarm.start(queued: true) }
            }
        }
    }

    /// `warm_connections` > 0: the warm-up handoff_client_new and
    /// handoff_init do, within timeout_ms.
    public func warmIfConfigured() {
        guard config.warmConnections > 0, url != nil else { return }
        _ = warm()
    }

    private func refusedWarmUp(_ message: String) -> WarmUpReport {
        log(.warning, "warm-up refused: \(message)")
        return WarmUpReport(status: .invalidArgument, made: 0, kept: 0, message: message)
    }

    /// OK when every connection was made; else the first failure: a
    /// timeout when any ran out of time, a network error otherwise.
    static func summary(_ outcomes: [(outcome: WarmOutcome, kept: Bool)], of count: Int, timeoutMs: Int) -> WarmUpReport {
        var made = 0, kept = 0, timedOut = false
        var why: String? = nil
        for (outcome, open) in outcomes {
            switch outcome {
            case .ready:
                made += 1
                if open { kept += 1 }
            case .timedOut:
                timedOut = true
            case .failed(let reason):
                why = why ?? reason
            }
        }
        if made == count { return WarmUpReport(status: .ok, made: made, kept: kept, message: "") }
        if timedOut {
            return WarmUpReport(status: .timeout, made: made, kept: kept, message: "not every connection was made within \(timeoutMs) ms")
        }
        return WarmUpReport(status: .network, made: made, kept: kept, message: why ?? "no connection could be made")
    }
}

/// The I/O thread's warm-up, started before the slots' and waited for after.
private struct QueueWarmUp {
    private let box: Locked<(outcome: WarmOutcome, kept: Bool)?>
    private let lock: Lock
    private let condition: Condition
    private let until: timespec
    private let started: Bool

    init(_ loop: CurlLoop, _ request: HTTPRequest) {
        let box = Locked<(outcome: WarmOutcome, kept: Bool)?>(nil)
        let lock = Lock(), condition = Condition()
        self.box = box
        self.lock = lock
        self.condition = condition
        until = Condition.deadline(inMilliseconds: request.timeoutMs)
        started = loop.warm(request, deadline: Deadline(milliseconds: request.timeoutMs)) { outcome, kept in
            lock.withLock {
                box.withLock { $0 = (outcome, kept) }
                condition.broadcast()
            }
        }
    }

    /// Its outcome, or `.timedOut` once the warm-up's time has passed.
    func wait() -> (outcome: WarmOutcome, kept: Bool) {
        guard started else { return (.failed("the library's I/O thread could not be started"), false) }
        return lock.withLock {
            while box.withLock({ $0 }) == nil {
                if !condition.wait(lock, until: until) { break }
            }
            return box.withLock { $0 } ?? (.timedOut, false)
        }
    }
}
