import Testing
@testable import HandoffCore

/// What a warm-up reports from its connections' outcomes.
@Suite struct WarmUpSummaryTests {
    @Test func everyConnectionMadeIsOK() {
        let report = HandoffClient.summary([(.ready, true), (.ready, false)], of: 2, timeoutMs: 100)
        #expect(report == WarmUpReport(status: .ok, made: 2, kept: 1, message: ""))
    }

    @Test func aConnectionOutOfTimeIsATimeout() {
        let report = HandoffClient.summary([(.ready, true), (.timedOut, false), (.failed("refused"), false)], of: 3, timeoutMs: 100)
        #expect(report.status == .timeout)
        #expect(report.made == 1 && report.kept == 1)
        #expect(report.message == "not every connection was made within 100 ms")
    }

    @Test func otherwiseTheFirstReasonIsANetworkError() {
        let report = HandoffClient.summary([(.failed("refused"), false), (.failed("reset"), false)], of: 2, timeoutMs: 100)
        #expect(report == WarmUpReport(status: .network, made: 0, kept: 0, message: "refused"))
        // Fewer outcomes than connections asked for (no handle could be made).
        #expect(HandoffClient.summary([], of: 1, timeoutMs: 100).status == .network)
    }
}
