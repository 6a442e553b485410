import Testing
@testable import HandoffCore

@Suite struct ReservationTests {
    @Test func onlyPhoneNumbersAreDNIs() {
        let thirtyTwo = String(repeating: "1", count: 32)
        for good in ["+1", "1", "+15550100", thirtyTwo, "+" + thirtyTwo] {
            #expect(ReservationDecoder.isPhoneNumber(good), "\(good)")
        }
        for bad in ["", "+", "++1", "1+", thirtyTwo + "1", "+1 555", "123@evil.example", "+1;transport=tcp",
                    "１２３", "+1\r\n", "sip:+1@x", "0x10", "1.5", "-1", "+١٢٣"] {
            #expect(!ReservationDecoder.isPhoneNumber(bad), "\(bad)")
        }
    }

    @Test func answersMapLikeLookups() {
        func reservation(_ status: Int, _ body: String) -> DNIReservation {
            ReservationDecoder.reservation(.response(status: status, body: Array(body.utf8)), timeoutMs: 100)
        }
        let ok = reservation(200, #"{"dni":"+15550100","extra":[1]}"#)
        #expect(ok.status == .ok && ok.dni == "+15550100" && ok.httpStatus == 200)
        #expect(reservation(200, #"{"dni":"+1;x=y"}"#).dni == nil)
        #expect(reservation(200, #"{"dni":"+1;x=y"}"#).status == .protocol)
        #expect(reservation(200, #"["+1"]"#).status == .protocol)
        #expect(reservation(403, #"{"error_message":"Invalid API key"}"#).status == .forbidden)
        #expect(reservation(403, #"{"error_message":"Invalid API key"}"#).errorMessage == "Invalid API key")
        #expect(reservation(409, #"{"error_message":"pool exhausted"}"#).status == .protocol)
        #expect(reservation(409, #"{"error_message":"pool exhausted"}"#).errorMessage.contains("pool exhausted"))
        #expect(reservation(503, "").status == .serverError)
        let timedOut = ReservationDecoder.reservation(.timedOut, timeoutMs: 250)
        #expect(timedOut.status == .timeout && timedOut.errorMessage == "no complete answer within 250 ms")
        #expect(ReservationDecoder.reservation(.notConnected("refused"), timeoutMs: 1).status == .network)
    }

    @Test func onlyRefusedConnectionsAreSentAgain() {
        #expect(HTTPOutcome.notConnected("refused").isRetryableForPost)
        #expect(!HTTPOutcome.failed("reset", retryable: true).isRetryableForPost)
        #expect(!HTTPOutcome.timedOut.isRetryableForPost)
        #expect(!HTTPOutcome.response(status: 503, body: []).isRetryableForPost)
        #expect(HTTPOutcome.response(status: 503, body: []).isRetryable)
    }

    @Test func bodyAddsTheSharedID() throws {
        func body(_ json: String?) -> String? {
            guard case .success(let bytes) = ReservationAttributes.body(sharedID: "call-7", json: json.map { Array($0.utf8) }) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(body(nil) == #"{"attributes":{"shared_id":"call-7"}}"#)
        #expect(body("") == #"{"attributes":{"shared_id":"call-7"}}"#)
        #expect(body(#" {"a":1.50,"b":[true,null]}"#) == #"{"attributes":{"a":1.50,"b":[true,null],"shared_id":"call-7"}}"#)
        #expect(body(#"{"shared_id":"call-7","x":"y"}"#) == #"{"attributes":{"shared_id":"call-7","x":"y"}}"#)
        #expect(body(#"{"shared_id":"other"}"#) == nil)
        #expect(body("[1]") == nil)
        #expect(body("{") == nil)
    }

    @Test func builderEscapesAndNests() throws {
        var builder = AttributesBuilder()
        try builder.set(Array("from".utf8), Array("\"},\"shared_id\":\"x".utf8))
        try builder.set(Array("a.b".utf8), Array("1".utf8))
        try builder.set(Array("a.c".utf8), Array("line\nbreak\u{1}".utf8))
        #expect(builder.json == #"{"from":"\"},\"shared_id\":\"x","a":{"b":"1","c":"line\nbreak\u0001"}}"#)
        #expect(throws: LookupError.self) { try builder.set(Array("a".utf8), Array("x".utf8)) }
        #expect(throws: LookupError.self) { try builder.set(Array("from.x".utf8), Array("x".utf8)) }
        // What the builder writes is what the reservation sends: an object
        // whose injected text stayed a value.
        guard case .success(let bytes) = ReservationAttributes.body(sharedID: "call-7", json: Array(builder.json.utf8)) else {
            Issue.record("the builder's JSON was refused")
            return
        }
        let sent = try JSONDecoder.decode(bytes)
        #expect(sent["attributes"]?["shared_id"] == .string("call-7"))
        #expect(sent["attributes"]?["from"] == .string("\"},\"shared_id\":\"x"))
    }
}
