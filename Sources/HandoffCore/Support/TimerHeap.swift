/// Things due at points on the monotonic clock, earliest first: a binary
/// min-heap, so the I/O thread finds what is due among thousands of
/// lookups in flight in O(log n). Entries are never removed early; whoever
/// pops one checks that it still matters.
struct TimerHeap<Value> {
    private var entries: [(due: ContinuousClock.Instant, order: UInt64, value: Value)] = []
    /// Breaks ties, so entries due at the same instant pop in push order.
    private var pushed: UInt64 = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var nextDue: ContinuousClock.Instant? { entries.first?.due }

    mutating func push(_ value: Value, due: ContinuousClock.Instant) {
        pushed &+= 1
        entries.append((due, pushed, value))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(child, parent) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// The earliest entry if it is due at `now`.
    mutating func popDue(at now: ContinuousClock.Instant) -> Value? {
        guard let first = entries.first, first.due <= now else { return nil }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return first.value }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count, precedes(left, smallest) { smallest = left }
            if right < entries.count, precedes(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return first.value
    }

    mutating func removeAll() { entries.removeAll() }

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        entries[a].due < entries[b].due || (entries[a].due == entries[b].due && entries[a].order < entries[b].order)
    }
}
