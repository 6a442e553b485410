import Synchronization

/// Fails fast while the API is down: after `threshold` consecutive API
/// failures it opens for `cooldown`, then lets exactly one probe through,
/// whose outcome closes it or opens it again.
final class CircuitBreaker: Sendable {
    enum Permit: Equatable {
        case normal
        case probe
        case rejected
    }

    enum Transition: Equatable {
        case opened, reopened, closed
    }

    private struct State {
        var consecutiveFailures = 0
        var openUntil: ContinuousClock.Instant? = nil
        var probing = false
    }

    private let threshold: Int
    private let cooldown: Duration
    private let state = Locked(State())
    /// Lock-free fast path: while closed with no failures counted, a permit
    /// and a success record take no lock.
    private let open = Atomic<Bool>(false)
    private let failing = Atomic<Bool>(false)

    /// threshold 0 turns the breaker off.
    init(threshold: Int, cooldownMs: Int) {
        self.threshold = threshold
        cooldown = .milliseconds(cooldownMs)
    }

    /// The cooldown, 0.75x to 1.25x at random: Kamailio's workers each have
    /// a breaker, all opened by the same outage; without jitter they all
    /// probed the silent API at the same moment and stalled together.
    private func jitteredCooldown() -> Duration {
        cooldown * Double.random(in: 0.75..<1.25)
    }

    var isOpen: Bool { open.load(ordering: .acquiring) }

    /// Failures are being counted (or it is open): the API may be in
    /// trouble, and a hedged request would only add to it.
    var isCountingFailures: Bool {
        threshold > 0 && (failing.load(ordering: .acquiring) || open.load(ordering: .acquiring))
    }

    /// `now` nil: the clock is read only when the breaker is open, so the
    /// closed fast path makes no system call.
    func permit(now: ContinuousClock.Instant? = nil) -> Permit {
        guard threshold > 0, open.load(ordering: .acquiring) else { return .normal }
        return state.withLock { state in
            guard let openUntil = state.openUntil else { return .normal }
            guard (now ?? .now) >= openUntil, !state.probing else { return .rejected }
            state.probing = true
            return .probe
        }
    }

    /// Closes it by hand (an operator knows the API is back): the failures
    /// counted are forgotten, the next request goes out. True if it was open.
    @discardableResult
    func reset() -> Bool {
        guard threshold > 0 else { return false }
        return state.withLock { state in
            let wasOpen = state.openUntil != nil
            state = State()
            failing.store(false, ordering: .releasing)
            open.store(false, ordering: .releasing)
            return wasOpen
        }
    }

    /// Records a finished request; returns a change of state worth logging.
    func record(_ permit: Permit, failed: Bool, now: ContinuousClock.Instant? = nil) -> Transition? {
        guard threshold > 0, permit != .rejected else { return nil }
        if !failed && permit == .normal && !failing.load(ordering: .acquiring) && !open.load(ordering: .acquiring) {
            return nil
        }
        return state.withLock { state in
            defer {
                failing.store(state.consecutiveFailures > 0, ordering: .releasing)
                open.store(state.openUntil != nil, ordering: .releasing)
            }
            // A probe that began before a reset() no longer decides: it
            // counts as one outcome like any other.
            let isProbe = permit == .probe && state.probing
            if isProbe { state.probing = false }
            guard failed else {
                state.consecutiveFailures = 0
                guard state.openUntil != nil else { return nil }
                state.openUntil = nil
                return .closed
            }
            state.consecutiveFailures = min(state.consecutiveFailures + 1, threshold)
            if isProbe {
                state.openUntil = (now ?? .now) + jitteredCooldown()
                return .reopened
            }
            guard state.openUntil == nil, state.consecutiveFailures >= threshold else { return nil }
            state.openUntil = (now ?? .now) + jitteredCooldown()
            return .opened
        }
    }
}
