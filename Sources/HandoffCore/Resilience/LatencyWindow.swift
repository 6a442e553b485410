import Synchronization

/// The recent latencies of a client's requests, for `hedge_after_ms = auto`:
/// the hedge delay is their 95th percentile ("The Tail at Scale": hedging
/// after p95 costs about 5% more requests), over the last
/// `Limits.latencyWindowSize` answers. Until `Limits.adaptiveHedgeMinSamples`
/// answers came there is no delay, and no hedge: a guess would hedge too
/// early or never. Per process, like the rest of `ClientRuntime`.
final class LatencyWindow: Sendable {
    private struct Ring {
        var samples: [Int] = []
        var next = 0
        var sinceSorted = 0
    }

    private let ring = Locked(Ring())
    /// The delay in ms; 0 while unknown. Read by every lookup (one load).
    private let p95 = Atomic<Int>(0)

    /// A request that got an answer, `ms` after it went out.
    func record(ms: Int) {
        let samples = ring.withLock { ring -> [Int]? in
            if ring.samples.count < Limits.latencyWindowSize {
                ring.samples.append(ms)
            } else {
                ring.samples[ring.next] = ms
                ring.next = (ring.next + 1) % Limits.latencyWindowSize
            }
            ring.sinceSorted += 1
            // Sorted outside the lock, every few answers: 512 integers.
            guard ring.samples.count >= Limits.adaptiveHedgeMinSamples,
                  ring.sinceSorted >= Limits.latencyResortEvery || p95.load(ordering: .relaxed) == 0 else { return nil }
            ring.sinceSorted = 0
            return ring.samples
        }
        guard let samples else { return }
        p95.store(Self.percentile95(samples), ordering: .relaxed)
    }

    /// The current delay in ms, at least `Limits.minHedgeMs`; nil while unknown.
    var delayMs: Int? {
        let value = p95.load(ordering: .relaxed)
        return value > 0 ? max(value, Limits.minHedgeMs) : nil
    }

    /// The value 95% of the samples are at or below (nearest rank), at least 1.
    static func percentile95(_ samples: [Int]) -> Int {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let rank = (sorted.count * 95 + 99) / 100
        return max(sorted[max(rank - 1, 0)], 1)
    }
}
