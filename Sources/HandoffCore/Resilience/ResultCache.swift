/// Successful results by id for `ttl`: handoff state is read-only once stored,
/// so a call transferred twice need not ask twice. Oldest entries go first
/// when full; with one TTL for all, insertion order is also expiry order.
final class ResultCache: Sendable {
    private struct Entry {
        let result: HandoffResult
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var entries: [LookupTarget: Entry] = [:]
        var order: [LookupTarget] = []
        var head = 0
    }

    private let ttl: Duration
    private let capacity: Int
    private let state = Locked(State())

    init(ttlMs: Int, capacity: Int) {
        ttl = .milliseconds(ttlMs)
        self.capacity = capacity
    }

    func get(_ target: LookupTarget, now: ContinuousClock.Instant = .now) -> HandoffResult? {
        state.withLock { state in
            guard let entry = state.entries[target], entry.expires > now else { return nil }
            return entry.result
        }
    }

    func put(_ target: LookupTarget, _ result: HandoffResult, now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            if state.entries.updateValue(Entry(result: result, expires: now + ttl), forKey: target) == nil {
                state.order.append(target)
            }
            // Evict expired entries and any beyond capacity, oldest first.
            while state.head < state.order.count {
                let oldest = state.order[state.head]
                guard let entry = state.entries[oldest] else {
                    state.head += 1
                    continue
                }
                guard state.entries.count > capacity || entry.expires <= now else { break }
                state.entries[oldest] = nil
                state.head += 1
            }
            if state.head > 64 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
