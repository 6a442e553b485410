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
/// Fork safety: Kamailio and OpenSIPS create clients in the parent and fork
/// workers. In a child, the parent's slots (their sockets and TLS state) are
/// abandoned, never used or cleaned up, because cleaning up would write to
/// connections the parent still owns. The child starts afresh.
final class ConnectionPool: Sendable {
    private struct State {
        var generation: Int
        var share: CurlShare
        /// Each idle slot with the thread that last used it.
        var idle: [(slot: TransferSlot, thread: pthread_t)] = []
    }

    private let state: Locked<State>
    private let settings: TransportSettings
    private let headers: CurlHeaderList

    init(settings: TransportSettings) {
        self.settings = settings
        headers = CurlHeaderList(settings.headers)
        state = Locked(State(generation: ForkGeneration.current, share: CurlShare()))
    }

    /// Runs `body` with a slot of its own; nil if no slot could be made.
    func withSlot<T>(_ body: (TransferSlot) -> T) -> T? {
        guard let slot = checkOut() else { return nil }
        defer { checkIn(slot) }
        return body(slot)
    }

    private func checkOut() -> TransferSlot? {
        let generation = ForkGeneration.current
        let me = pthread_self()
        let (reused, share) = state.withLock { state -> (TransferSlot?, CurlShare) in
            if state.generation != generation {
                Self.abandon(state.idle.map(\.slot), state.share)
                state = State(generation: generation, share: CurlShare())
            }
            guard !state.idle.isEmpty else { return (nil, state.share) }
            let index = state.idle.lastIndex { pthread_equal($0.thread, me) != 0 } ?? state.idle.count - 1
            return (state.idle.remove(at: index).slot, state.share)
        }
        return reused ?? TransferSlot(settings: settings, headers: headers, share: share)
    }

    private func checkIn(_ slot: TransferSlot) {
        let generation = ForkGeneration.current
        guard slot.forkGeneration == generation else {
            Self.abandon([slot], nil)
            return
        }
        // A slot over the idle cap is released outside the lock.
        let surplus: TransferSlot? = state.withLock { state in
            guard state.generation == generation, state.idle.count < Limits.maxIdleConnections else { return slot }
            state.idle.append((slot, pthread_self()))
            return nil
        }
        _ = surplus
    }

    /// Keeps the parent's objects alive for the life of a forked child, so
    /// their deinit never closes or writes to the parent's connections. Held
    /// here rather than leaked, so leak checkers see them as reachable.
    private static let abandoned = Locked<[AnyObject]>([])

    private static func abandon(_ slots: [TransferSlot], _ share: CurlShare?) {
        abandoned.withLock { kept in
            kept.append(contentsOf: slots as [AnyObject])
            if let share { kept.append(share) }
        }
    }
}
