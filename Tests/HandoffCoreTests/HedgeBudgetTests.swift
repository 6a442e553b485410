import Testing
@testable import HandoffCore

/// The hedge budget's arithmetic: exact, empty at start, capped.
@Suite struct HedgeBudgetTests {
    @Test func tenPercentIsOneHedgeInTenLookups() {
        let budget = HedgeBudget(maxPercent: 10)
        var hedges = 0
        for _ in 0..<40 {
            budget.earn()
            if budget.spend() { hedges += 1 }
        }
        #expect(hedges == 4)
        #expect(!budget.spend())
    }

    @Test func aQuietSpellSavesUpAtMostTheBurst() {
        let budget = HedgeBudget(maxPercent: 100)
        for _ in 0..<1000 { budget.earn() }
        var hedges = 0
        while budget.spend() { hedges += 1 }
        #expect(hedges == Limits.hedgeBurst)
    }

    @Test func aHedgeNeverSentIsGivenBack() {
        let budget = HedgeBudget(maxPercent: 10)
        for _ in 0..<10 { budget.earn() }
        #expect(budget.spend())
        #expect(!budget.spend())
        budget.refund()
        #expect(budget.spend())
        #expect(!budget.spend())
    }

    @Test func aRefundNeverPassesTheBurst() {
        let budget = HedgeBudget(maxPercent: 100)
        for _ in 0..<(Limits.hedgeBurst * 2) { budget.earn() }
        budget.refund()
        var hedges = 0
        while budget.spend() { hedges += 1 }
        #expect(hedges == Limits.hedgeBurst)
    }

    @Test func zeroPercentNeverHedges() {
        let budget = HedgeBudget(maxPercent: 0)
        for _ in 0..<1000 { budget.earn() }
        #expect(!budget.spend())
    }
}

/// hedge_after_ms = auto: the delay is the p95 of the recent answers.
@Suite struct LatencyWindowTests {
    @Test func noDelayUntilEnoughAnswers() {
        let window = LatencyWindow()
        for _ in 0..<(Limits.adaptiveHedgeMinSamples - 1) { window.record(ms: 100) }
        #expect(window.delayMs == nil)
        window.record(ms: 100)
        #expect(window.delayMs == 100)
    }

    @Test func theDelayIsTheNinetyFifthPercentile() {
        // 1..100 ms: 95% are at or below 95 ms.
        #expect(LatencyWindow.percentile95(Array(1...100)) == 95)
        #expect(LatencyWindow.percentile95([7]) == 7)
        #expect(LatencyWindow.percentile95([0, 0]) == 1)
        // Recomputed at the 50th answer (then every 32nd): 50..1 gives 48.
        let window = LatencyWindow()
        for ms in (1...50).reversed() { window.record(ms: ms) }
        #expect(window.delayMs == 48)
    }

    @Test func neverBelowTheShortestHedge() {
        let window = LatencyWindow()
        for _ in 0..<Limits.adaptiveHedgeMinSamples { window.record(ms: 1) }
        #expect(window.delayMs == Limits.minHedgeMs)
    }

    @Test func onlyTheLastWindowCounts() {
        let window = LatencyWindow()
        for _ in 0..<Limits.latencyWindowSize { window.record(ms: 500) }
        // A full window of fast answers replaces the slow ones.
        for _ in 0..<Limits.latencyWindowSize { window.record(ms: 30) }
        #expect(window.delayMs == 30)
    }

    @Test func autoIsParsed() throws {
        var config = HandoffConfig()
        try config.set("hedge_after_ms", "auto")
        #expect(config.hedgeAdaptive && config.hedgeAfterMs == 0)
        try config.set("hedge_after_ms", "40")
        #expect(!config.hedgeAdaptive && config.hedgeAfterMs == 40)
    }
}
