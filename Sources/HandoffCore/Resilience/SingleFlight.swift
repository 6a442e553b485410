/// Concurrent lookups of the same id share one request: the first becomes the
/// leader and sends it, the others wait for its result, each no longer than
/// its own deadline. The flights are spread over shards by the id's hash, so
/// threads looking up different ids rarely meet on a lock; a waiter sleeps
/// on its shard's condition and re-checks its own flight when woken; a
/// queued lookup leaves a continuation instead of waiting.
///
/// A shard holds the few flights in progress in a plain array, searched by
/// hash first: with a handful of entries that is cheaper than a dictionary,
/// which hashed the id again on every insert and removal.
///
/// A forked child gets a table of its own (the client's `ClientRuntime` is
/// per process): the parent's leaders do not exist there.
final class SingleFlight: Sendable {
    enum Role {
        case leader(Flight)
        case follower(Flight)
    }

    private final class Shard: Sendable {
        let lock = Lock()
        let condition = Condition()
        // Guarded by `lock`.
        nonisolated(unsafe) var flights: [Flight] = []
    }

    private static let shardCount = 16
    private let shards = (0..<SingleFlight.shardCount).map { _ in Shard() }

    private func shard(_ hash: Int) -> Shard {
        shards[Int(UInt(bitPattern: hash) % UInt(Self.shardCount))]
    }

    func join(_ target: LookupTarget) -> Role {
        let hash = target.hashValue
        let shard = shard(hash)
        return shard.lock.withLock {
            if let flight = shard.flights.first(where: { $0.hash == hash && $0.target == target }) {
                flight.waiters += 1
                return .follower(flight)
            }
            let flight = Flight(target: target, hash: hash)
            shard.flights.append(flight)
            return .leader(flight)
        }
    }

    /// A queued lookup's join: as a follower it leaves `onResult`, which
    /// the leader's `finish` calls, on the leader's thread, with no lock held.
    func join(_ target: LookupTarget, onResult: @escaping Flight.Continuation) -> Flight? {
        let hash = target.hashValue
        let shard = shard(hash)
        return shard.lock.withLock {
            if let flight = shard.flights.first(where: { $0.hash == hash && $0.target == target }) {
                flight.continuations.append(onResult)
                return nil
            }
            let flight = Flight(target: target, hash: hash)
            shard.flights.append(flight)
            return flight
        }
    }

    /// The leader publishes its result and retires the flight.
    func finish(_ flight: Flight, _ result: HandoffResult) {
        let shard = shard(flight.hash)
        let continuations = shard.lock.withLock { () -> [Flight.Continuation] in
            if let index = shard.flights.firstIndex(where: { $0 === flight }) {
                shard.flights.swapAt(index, shard.flights.count - 1)
                shard.flights.removeLast()
            }
            // Followers join under this lock, so with none now there will be none.
            if flight.waiters > 0 {
                flight.result = result
                shard.condition.broadcast()
            }
            defer { flight.continuations = [] }
            return flight.continuations
        }
        for continuation in continuations { continuation(result) }
    }

    /// Followers of `target`'s flight in progress, waiting or queued: what a
    /// test waits for before it lets the leader's answer go.
    func followers(of target: LookupTarget) -> Int {
        let hash = target.hashValue
        let shard = shard(hash)
        return shard.lock.withLock {
            shard.flights.first(where: { $0.hash == hash && $0.target == target })
                .map { $0.waiters + $0.continuations.count } ?? 0
        }
    }

    /// A follower's wait: the leader's result, or nil if `remainingMs` ran out first.
    func wait(_ flight: Flight, remainingMs: Int) -> HandoffResult? {
        let shard = shard(flight.hash)
        let deadline = Condition.deadline(inMilliseconds: remainingMs)
        return shard.lock.withLock {
            while flight.result == nil {
                if !shard.condition.wait(shard.lock, until: deadline) { break }
            }
            return flight.result
        }
    }
}

/// One shared request; `result`, `waiters` and `continuations` are guarded
/// by its shard's lock.
final class Flight: @unchecked Sendable {
    typealias Continuation = @Sendable (HandoffResult) -> Void
    let target: LookupTarget
    let hash: Int
    var result: HandoffResult? = nil
    var waiters = 0
    /// Queued lookups following this flight.
    var continuations: [Continuation] = []

    init(target: LookupTarget, hash: Int) {
        self.target = target
        self.hash = hash
    }
}
