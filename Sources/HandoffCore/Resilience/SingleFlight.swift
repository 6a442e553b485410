/// Concurrent lookups of the same id share one request: the first becomes the
/// leader and sends it, the others wait for its result, each no longer than
/// its own deadline. The table is sharded so that threads looking up
/// different ids rarely meet on a lock; a waiter sleeps on its shard's
/// condition and re-checks its own flight when woken.
final class SingleFlight: Sendable {
    enum Role {
        case leader(Flight)
        case follower(Flight)
    }

    private final class Shard: Sendable {
        let lock = Lock()
        let condition = Condition()
        // Guarded by `lock`.
        nonisolated(unsafe) var flights: [LookupTarget: Flight] = [:]
        nonisolated(unsafe) var generation = ForkGeneration.current
    }

    private static let shardCount = 16
    private let shards = (0..<SingleFlight.shardCount).map { _ in Shard() }

    private func shard(_ target: LookupTarget) -> Shard {
        shards[Int(UInt(bitPattern: target.hashValue) % UInt(Self.shardCount))]
    }

    func join(_ target: LookupTarget) -> Role {
        let shard = shard(target)
        let generation = ForkGeneration.current
        return shard.lock.withLock {
            // After fork() the parent's leaders do not exist here: start afresh.
            if shard.generation != generation {
                shard.flights = [:]
                shard.generation = generation
            }
            if let flight = shard.flights[target] {
                flight.waiters += 1
                return .follower(flight)
            }
            let flight = Flight()
            shard.flights[target] = flight
            return .leader(flight)
        }
    }

    /// The leader publishes its result and retires the flight.
    func finish(_ target: LookupTarget, _ flight: Flight, _ result: HandoffResult) {
        let shard = shard(target)
        shard.lock.withLock {
            if shard.flights[target] === flight { shard.flights[target] = nil }
            // Followers join under this lock, so with none now there will be none.
            guard flight.waiters > 0 else { return }
            flight.result = result
            shard.condition.broadcast()
        }
    }

    /// A follower's wait: the leader's result, or nil if `remainingMs` ran out first.
    func wait(_ target: LookupTarget, _ flight: Flight, remainingMs: Int) -> HandoffResult? {
        let shard = shard(target)
        let deadline = Condition.deadline(inMilliseconds: remainingMs)
        return shard.lock.withLock {
            while flight.result == nil {
                if !shard.condition.wait(shard.lock, until: deadline) { break }
            }
            return flight.result
        }
    }
}

/// One shared request; its fields are guarded by its shard's lock.
final class Flight: @unchecked Sendable {
    var result: HandoffResult? = nil
    var waiters = 0
}
