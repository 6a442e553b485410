#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The idle transfer slots of one client, each holding a kept-alive connection.
/// A lookup checks one out, so concurrent lookups never share a handle; up to
/// `Limits.maxIdleConnections` are kept between lookups.
///
/// A thread gets back the slot it used last when it is idle, as if it had a
/// handle of its own: its connection, TLS state and buffers stay with it
/// instead of moving between cores and malloc arenas.
///
/// Fork safety: a pool belongs to one process (its client's `ClientRuntime`
/// is per process). A forked child gets a new pool and never uses, locks or
/// frees this one, whose deinit would write to the parent's connections.
final class ConnectionPool: Sendable {
    private struct State {
        var share: CurlShare
        /// Each idle slot with the thread that last used it.
        var idle: [(slot: TransferSlot, thread: pthread_t)] = []
    }

    private let state: Locked<State>
    private let settings: TransportSettings
    private let headers: RequestHeaders
    private let generation = ForkGeneration.current

    init(settings: TransportSettings) {
        self.settings = settings
        headers = RequestHeaders(settings)
        state = Locked(State(share: CurlShare()))
    }

    /// The I/O thread of queued lookups: the same headers, DNS cache and
    /// TLS sessions as the slots, its own connections.
    func makeLoop() -> CurlLoop {
        CurlLoop(settings: settings, headers: headers, share: state.withLock { $0.share })
    }

    /// The connections opened so far, by HTTP version (the loop's too).
    var connections: (http1: UInt64, http2: UInt64, total: UInt64) { state.withLock { $0.share }.connections.counts }

    var secretsVersion: Int { headers.version }

    /// New header lists for every transfer from its next request on.
    func replaceHeaders(lookup: [String], reservation: [String], proxyCredentials: String?) {
        headers.replace(lookup: lookup, reservation: reservation, proxyCredentials: proxyCredentials)
    }

    /// Runs `body` with a slot of its own; nil if no slot could be made.
    func withSlot<T>(_ body: (TransferSlot) -> T) -> T? {
        guard let slot = checkOut() else { return nil }
        defer { checkIn(slot) }
        return body(slot)
    }

    /// Warms `count` new slots at once (the caller's thread and one library
    /// thread for each other slot), then keeps them idle for this thread's
    /// lookups. Each outcome comes with whether its connection stayed open
    /// (HTTP/2; libcurl closes an HTTP/1.1 one that carried no request, but
    /// its DNS answer and TLS session stay in the share). The threads never
    /// call host code and are joined before this returns.
    func warm(_ request: HTTPRequest, count: Int) -> [(outcome: WarmOutcome, kept: Bool)] {
        guard ForkGeneration.current == generation, count > 0 else { return [] }
        let share = state.withLock { $0.share }
        let deadline = Deadline(milliseconds: request.timeoutMs)
        let slots = (0..<count).map { _ in TransferSlot(settings: settings, headers: headers, share: share) }
        let outcomes = Locked([WarmOutcome?](repeating: nil, count: count))
        let warmOne: @Sendable (Int) -> Void = { index in
            guard let slot = slots[index] else {
                return outcomes.withLock { $0[index] = .failed("could not create a libcurl handle") }
            }
            let remaining = deadline.remainingMs
            let outcome = remaining > 0 ? slot.warm(HTTPRequest(url: request.url, timeoutMs: remaining)) : .timedOut
            outcomes.withLock { $0[index] = outcome }
        }
        var threads: [pthread_t] = []
        var onCaller: [Int] = [0]
        for index in 1..<max(count, 1) {
            if let thread = LibraryThread.start(name: "polyai-warm", { warmOne(index) }) {
                threads.append(thread)
            } else {
                onCaller.append(index)
            }
        }
        for index in onCaller { warmOne(index) }
        for thread in threads { pthread_join(thread, nil) }
        let results = outcomes.withLock { $0 }
        var report: [(outcome: WarmOutcome, kept: Bool)] = []
        for (index, slot) in slots.enumerated() {
            let outcome = results[index] ?? .failed("not warmed")
            report.append((outcome, slot?.isConnected ?? false))
            if case .ready = outcome, let slot { checkIn(slot) }
        }
        return report
    }

    private func checkOut() -> TransferSlot? {
        // Only a lookup that a fork from inside the log callback carried
        // into a child gets here with the parent's pool: it fails.
        guard ForkGeneration.current == generation else { return nil }
        let me = pthread_self()
        let (reused, share) = state.withLock { state -> (TransferSlot?, CurlShare) in
            guard !state.idle.isEmpty else { return (nil, state.share) }
            let index = state.idle.lastIndex { pthread_equal($0.thread, me) != 0 } ?? state.idle.count - 1
            return (state.idle.remove(at: index).slot, state.share)
        }
        return reused ?? TransferSlot(settings: settings, headers: headers, share: share)
    }

    private func checkIn(_ slot: TransferSlot) {
        // A lookup that was running when its thread forked cannot return in
        // the child, but if one ever did, its slot stays the parent's.
        guard ForkGeneration.current == generation else {
            Abandoned.keep(slot)
            return
        }
        // A slot over the idle cap, or one that cannot work, is released
        // outside the lock.
        guard slot.isUsable else { return }
        let surplus: TransferSlot? = state.withLock { state in
            guard state.idle.count < Limits.maxIdleConnections else { return slot }
            state.idle.append((slot, pthread_self()))
            return nil
        }
        _ = surplus
    }
}
