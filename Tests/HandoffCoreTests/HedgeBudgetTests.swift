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

    @Test func zeroPercentNeverHedges() {
        let budget = HedgeBudget(maxPercent: 0)
        for _ in 0..<1000 { budget.earn() }
        #expect(!budget.spend())
    }
}
