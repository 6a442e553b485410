/// A point on the monotonic clock by which a lookup must have returned.
struct Deadline: Sendable {
    let end: ContinuousClock.Instant

    init(milliseconds: Int, from start: ContinuousClock.Instant = .now) {
        end = start.advanced(by: .milliseconds(max(0, milliseconds)))
    }

    /// Whole milliseconds left, rounded up so a wait never ends just short of
    /// the deadline and spins; 0 once it has passed.
    var remainingMs: Int {
        let left = end - ContinuousClock.now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        guard !ms.overflow else { return Int.max }
        return Int(clamping: ms.partialValue) &+ Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    var hasPassed: Bool { ContinuousClock.now >= end }
}
