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
        /// Each idle slot with the thread that last used it and since when
        /// it is idle; the most recently used last.
        var idle: [Idle] = []
    }

    private struct Idle {
        let slot: TransferSlot
        let thread: pthread_t
        let since: ContinuousClock.Instant
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
    var connections: ConnectionCounts { state.withLock { $0.share }.connections.counts }

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

    /// Warms `count` new slots at once, then keeps them idle for this
    /// thread's lookups. Each outcome comes with whether its connection
    /// stayed open (HTTP/2; libcurl closes an HTTP/1.1 one that carried no
    /// request, but its DNS answer stays in the share).
    func warm(_ request: HTTPRequest, count: Int) -> [(outcome: WarmOutcome, kept: Bool)] {
        guard ForkGeneration.current == generation else { return [] }
        return warmedSlots(request, count: count).map { warmed in
            // Read before the slot is checked in: from then on another
            // thread's lookup may take it.
            let connected = warmed.slot?.isConnected ?? false
            guard case .ready = warmed.outcome, let slot = warmed.slot else { return (warmed.outcome, false) }
            return (warmed.outcome, checkIn(slot) && connected)
        }
    }

    /// Keep-warm's check, on the I/O thread: is any of the `count` most
    /// recently used idle slots idle for `idleFor`, or any other for
    /// `dropAfter`? (A lock and a scan of at most 32 entries.)
    func hasIdle(count: Int, idleFor: Duration, orDropAfter dropAfter: Duration) -> Bool {
        guard ForkGeneration.current == generation else { return false }
        return state.withLock { state in
            let now = ContinuousClock.now
            for (position, entry) in state.idle.enumerated() {
                let recent = position >= state.idle.count - count
                if now - entry.since >= (recent ? idleFor : dropAfter) { return true }
            }
            return false
        }
    }

    /// Keep-warm, on a library thread: the `count` most recently used idle
    /// slots idle for `replaceAfter` or longer are replaced by newly warmed
    /// ones, before the server's idle timeout (or libcurl's maximum age)
    /// closes them; other idle slots idle for `dropAfter` are closed. A
    /// lookup that takes an old slot meanwhile keeps it. Returns how many
    /// warmed connections went in.
    func refresh(_ request: HTTPRequest, count: Int, replaceAfter: Duration, dropAfter: Duration) -> Int {
        guard ForkGeneration.current == generation else { return 0 }
        let picked = state.withLock { state -> Picked in
            let now = ContinuousClock.now
            var picked = Picked()
            var kept: [Idle] = []
            for (position, entry) in state.idle.enumerated().reversed() {
                let idleFor = now - entry.since
                if position >= state.idle.count - count {
                    if idleFor >= replaceAfter { picked.due.append(ObjectIdentifier(entry.slot)) }
                    kept.append(entry)
                } else if idleFor >= dropAfter {
                    picked.dropped.append(entry.slot)
                } else {
                    kept.append(entry)
                }
            }
            state.idle = kept.reversed()
            return picked
        }
        let due = picked.due  // picked.dropped are closed outside the lock, on return
        guard !due.isEmpty else { return 0 }
        let fresh = warmedSlots(request, count: due.count).compactMap { warmed -> TransferSlot? in
            guard case .ready = warmed.outcome, let slot = warmed.slot, slot.isConnected else { return nil }
            return slot
        }
        let placed = state.withLock { state -> Picked in
            var placed = Picked()
            var fresh = fresh[...]
            for old in due {
                guard let index = state.idle.firstIndex(where: { ObjectIdentifier($0.slot) == old }) else { continue }
                guard let slot = fresh.popFirst() else { break }
                placed.dropped.append(state.idle[index].slot)
                state.idle[index] = Idle(slot: slot, thread: state.idle[index].thread, since: .now)
                placed.due.append(ObjectIdentifier(slot))
            }
            // Those whose old slot a lookup took: kept while there is room
            // (the rest are closed on return).
            for slot in fresh where state.idle.count < Limits.maxIdleConnections {
                state.idle.append(Idle(slot: slot, thread: pthread_self(), since: .now))
                placed.due.append(ObjectIdentifier(slot))
            }
            return placed
        }
        return placed.due.count
    }

    /// Slots picked under the lock: those due for replacement (or placed),
    /// and those to close once it is released.
    private struct Picked {
        var due: [ObjectIdentifier] = []
        var dropped: [TransferSlot] = []
    }

    /// The generic types warm-ups and keep-warm use on library threads,
    /// instantiated once on the calling thread (see PathWarmUp): a fork
    /// must not catch a library thread inside the Swift runtime's metadata
    /// locks.
    static func warmUpTypes() {
        let outcomes = Locked([WarmOutcome?](repeating: nil, count: 1))
        outcomes.withLock { $0[0] = .ready }
        // Array storage is a generic class: its metadata is made the first
        // time an array of that element type allocates.
        allocate((slot: TransferSlot?, outcome: WarmOutcome).self)
        allocate((outcome: WarmOutcome, kept: Bool).self)
        allocate(TransferSlot?.self)
        allocate(TransferSlot.self)
        allocate(Idle.self)
        allocate(ObjectIdentifier.self)
        allocate(SocketLedger.Entry.self)
        _ = Picked()
        allocate(pthread_t.self)
        var fresh = [TransferSlot]()[...]
        _ = fresh.popFirst()
        let idle: [Idle] = []
        for (position, entry) in idle.enumerated().reversed() { _ = (position, entry) }
        _ = Array(idle.reversed())
    }

    private static func allocate<Element>(_: Element.Type) {
        _ = [Element](unsafeUninitializedCapacity: 1) { _, count in count = 0 }
    }

    /// `count` new slots, warmed at once: the calling thread warms one and a
    /// library thread each other (joined before this returns; they never
    /// call host code). A slot is nil where none could be made.
    private func warmedSlots(_ request: HTTPRequest, count: Int) -> [(slot: TransferSlot?, outcome: WarmOutcome)] {
        guard count > 0 else { return [] }
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
        for index in 1..<count {
            if let thread = LibraryThread.start(name: "polyai-warm", { warmOne(index) }) {
                threads.append(thread)
            } else {
                onCaller.append(index)
            }
        }
        for index in onCaller { warmOne(index) }
        for thread in threads { pthread_join(thread, nil) }
        let results = outcomes.withLock { $0 }
        return slots.enumerated().map { ($0.element, results[$0.offset] ?? .failed("not warmed")) }
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

    /// True when the slot was kept idle.
    @discardableResult
    private func checkIn(_ slot: TransferSlot) -> Bool {
        // A lookup that was running when its thread forked cannot return in
        // the child, but if one ever did, its slot stays the parent's.
        guard ForkGeneration.current == generation else {
            Abandoned.keep(slot)
            return false
        }
        // A slot over the idle cap, or one that cannot work, is released
        // outside the lock.
        guard slot.isUsable else { return false }
        let surplus: TransferSlot? = state.withLock { state in
            guard state.idle.count < Limits.maxIdleConnections else { return slot }
            state.idle.append(Idle(slot: slot, thread: pthread_self(), since: .now))
            return nil
        }
        return surplus == nil
    }
}
