import Synchronization

/// How many hedged requests a client may send: a token bucket, as gRPC's
/// retry throttling. Every lookup that sends a request earns
/// `hedge_max_percent` / 100 of a hedge; a hedge spends a whole one. It
/// starts empty and holds at most `Limits.hedgeBurst`, so over any run the
/// hedges are at most lookups x hedge_max_percent / 100, and a quiet spell
/// never saves up more than a short burst. Per process, like the rest of
/// `ClientRuntime`.
final class HedgeBudget: Sendable {
    /// Thousandths of a hedge.
    private let balance = Atomic<Int>(0)
    private let earned: Int
    private static let whole = 1000

    init(maxPercent: Int) {
        earned = maxPercent * Self.whole / 100
    }

    /// A lookup that sends a request.
    func earn() {
        guard earned > 0 else { return }
        var current = balance.load(ordering: .relaxed)
        while current < Limits.hedgeBurst * Self.whole {
            let next = min(current + earned, Limits.hedgeBurst * Self.whole)
            let (exchanged, seen) = balance.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = seen
        }
    }

    /// True, and one hedge spent, when the balance holds one.
    func spend() -> Bool {
        var current = balance.load(ordering: .relaxed)
        while current >= Self.whole {
            let (exchanged, seen) = balance.compareExchange(expected: current, desired: current - Self.whole, ordering: .relaxed)
            if exchanged { return true }
            current = seen
        }
        return false
    }

    /// A hedge spent but never sent (no handle could carry it), up to the cap.
    func refund() {
        var current = balance.load(ordering: .relaxed)
        while true {
            let next = min(current + Self.whole, Limits.hedgeBurst * Self.whole)
            let (exchanged, seen) = balance.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = seen
        }
    }
}
