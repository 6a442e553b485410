import Testing
@testable import HandoffCore

@Suite struct ResponseTests {
    func outcome(_ status: Int, _ body: String) -> Renderer.Outcome {
        ResponseDecoder.outcome(.response(status: status, body: Array(body.utf8)), timeoutMs: 100)
    }

    @Test func success() {
        let result = outcome(200, #"{"id":"c-1","shared_id":"s-1","data":{"a":"b"}}"#)
        #expect(result.status == .ok)
        #expect(result.conversationID == "c-1")
        #expect(result.sharedID == "s-1")
        #expect(result.data == .object([JSONMember("a", .string("b"))]))
    }

    @Test func sharedIDIsOptional() {
        let result = outcome(200, #"{"id":"c-1","data":{}}"#)
        #expect(result.status == .ok && result.sharedID == nil)
        #expect(outcome(200, #"{"id":"c-1","shared_id":null,"data":{}}"#).status == .ok)
    }

    @Test(arguments: [
        "not json", #"{"id":"x"}"#, #"{"data":{}}"#, #"{"id":42,"data":{}}"#, #"{"id":"x","data":[1]}"#,
        #"{"id":"x","data":"s"}"#, #"{"id":"x","shared_id":5,"data":{}}"#, "[]", "",
    ])
    func malformedSuccessIsProtocol(body: String) {
        let result = outcome(200, body)
        #expect(result.status == .protocol)
        #expect(result.httpStatus == 200)
        #expect(!result.errorMessage.isEmpty)
    }

    @Test(arguments: [
        (400, HandoffStatus.badRequest), (401, .unauthorized), (403, .forbidden), (404, .notFound),
        (500, .serverError), (502, .serverError), (503, .serverError), (599, .serverError),
        (302, .protocol), (418, .protocol), (204, .protocol), (100, .protocol),
    ])
    func statusMapping(http: Int, status: HandoffStatus) {
        let result = outcome(http, #"{"error_message":"why"}"#)
        #expect(result.status == status)
        #expect(result.httpStatus == http)
    }

    @Test func errorMessageIsSurfaced() {
        #expect(outcome(404, #"{"error_message":"Handoff state not found"}"#).errorMessage == "Handoff state not found")
        #expect(outcome(502, "<html>bad gateway</html>").errorMessage == "HTTP 502")
    }

    /// Regression: the API's error_message was dropped for statuses we do not map.
    @Test func errorMessageOfUnmappedStatusIsKept() {
        let result = outcome(418, #"{"error_message":"teapot"}"#)
        #expect(result.status == .protocol)
        #expect(result.errorMessage == "unexpected HTTP status 418: teapot")
    }

    /// Regression: an oversized 200 reported http_status 0.
    @Test func oversizedBodyKeepsItsStatus() {
        #expect(ResponseDecoder.outcome(.bodyTooLarge(status: 200, limit: 1024), timeoutMs: 1).httpStatus == 200)
    }

    @Test func transportOutcomes() {
        #expect(ResponseDecoder.outcome(.timedOut, timeoutMs: 300).status == .timeout)
        #expect(ResponseDecoder.outcome(.timedOut, timeoutMs: 300).errorMessage.contains("300 ms"))
        #expect(ResponseDecoder.outcome(.bodyTooLarge(status: 200, limit: 1024), timeoutMs: 1).status == .protocol)
        #expect(ResponseDecoder.outcome(.failed("Couldn't connect", retryable: true), timeoutMs: 1).status == .network)
    }
}
