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

    /// Regression: a 200 whose keys repeat failed with protocol. The last
    /// occurrence wins everywhere: the top-level fields, the entries, and the
    /// data object parsed again for data_json.
    @Test func duplicateKeysDoNotFailTheLookup() {
        let body = #"{"id":"first","data":{"queue":"first","tier":"gold","queue":"second","n":{"x":1},"n":{"y":2}},"id":"c-1"}"#
        let decoded = outcome(200, body)
        #expect(decoded.status == .ok)
        #expect(decoded.conversationID == "c-1")
        #expect(decoded.flat?.pairs == [
            HandoffPair(key: "queue", value: "second"), HandoffPair(key: "tier", value: "gold"),
            HandoffPair(key: "n.y", value: "2"),
        ])
        let result = Renderer(options: RenderOptions()).result(decoded)
        #expect(result.dataJSON == #"{"queue":"second","tier":"gold","n":{"y":2}}"#)
        #expect(Flattener(options: RenderOptions()).flatten(result.data) == result.flat, "data_json flattens to the entries")
        #expect(result.rendered().headerBlock == "X-PolyAI-Handoff-Status: ok\r\nX-PolyAI-Conversation-Id: c-1\r\n"
            + "X-PolyAI-Queue: second\r\nX-PolyAI-Tier: gold\r\nX-PolyAI-N-Y: 2\r\n")
        #expect(outcome(200, #"{"id":"c","data":{},"data":5}"#).status == .protocol, "the last data is the one checked")
    }

    /// Keys equal once their invalid UTF-8 is mended are duplicates too.
    @Test func keysEqualOnceMendedDoNotFailTheLookup() {
        let body = Array(#"{"id":"c","data":{"a"#.utf8) + [0xFF] + Array(#"":"1","b":"2","a"#.utf8) + [0xFE]
            + Array(#"":"3"}}"#.utf8)
        let outcome = ResponseDecoder.success(body, flattener: Flattener(options: RenderOptions()))
        #expect(outcome.status == .ok)
        #expect(outcome.flat?.pairs == [HandoffPair(key: "a\u{FFFD}", value: "3"), HandoffPair(key: "b", value: "2")])
        #expect(Renderer(options: RenderOptions()).result(outcome).dataJSON == "{\"a\u{FFFD}\":\"3\",\"b\":\"2\"}")
    }

    @Test func transportOutcomes() {
        #expect(ResponseDecoder.outcome(.timedOut, timeoutMs: 300).status == .timeout)
        #expect(ResponseDecoder.outcome(.timedOut, timeoutMs: 300).errorMessage.contains("300 ms"))
        #expect(ResponseDecoder.outcome(.bodyTooLarge(status: 200, limit: 1024), timeoutMs: 1).status == .protocol)
        #expect(ResponseDecoder.outcome(.failed("Couldn't connect", retryable: true), timeoutMs: 1).status == .network)
    }
}
