import Testing
@testable import HandoffCore

@Suite struct JSONTests {
    func decode(_ text: String) throws -> JSONValue { try JSONDecoder.decode(Array(text.utf8)) }

    @Test func numbersKeepTheirExactText() throws {
        let text = #"{"big":123456789012345678901234567890,"max":9223372036854775807,"min":-9223372036854775808,"tiny":1e-400,"huge":1e400,"nz":-0.0,"exact":1.10,"exp":6.02E23,"in":[0,-1,2.5e+3]}"#
        let value = try decode(text)
        #expect(value["big"] == .number("123456789012345678901234567890"))
        #expect(value["max"] == .number("9223372036854775807"))
        #expect(value["min"] == .number("-9223372036854775808"))
        #expect(value["tiny"] == .number("1e-400"))
        #expect(value["huge"] == .number("1e400"))
        #expect(value["nz"] == .number("-0.0"))
        #expect(value["exact"] == .number("1.10"))
        #expect(value["exp"] == .number("6.02E23"))
        #expect(value["in"] == .array([.number("0"), .number("-1"), .number("2.5e+3")]))
        #expect(CompactJSON.string(value) == text)
    }

    @Test func numbersInsideStringsAreLeftAlone() throws {
        let value = try decode(#"{"a":"12 \"3\" 4","b\"5":6,"c":"\\","d":7}"#)
        #expect(value["a"] == .string(#"12 "3" 4"#))
        #expect(value["b\"5"] == .number("6"))
        #expect(value["c"] == .string("\\"))
        #expect(value["d"] == .number("7"))
    }

    @Test(arguments: ["01", "-", "1.", ".5", "1e", "+1", "1.2.3", "--1", "0x10", "1e+", "NaN", "Infinity"])
    func invalidNumbersAreRefused(number: String) {
        #expect(throws: JSONDecoder.Failure.self) { try decode("{\"a\":\(number)}") }
    }

    @Test func documentOrderIsKept() throws {
        guard case .object(let members) = try decode(#"{"z":1,"a":2,"m":{"y":3,"b":4}}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["z", "a", "m"])
    }

    @Test func duplicateKeysAreRefused() {
        #expect(throws: JSONDecoder.Failure.self) { try decode(#"{"a":1,"a":2}"#) }
    }

    @Test func nulInStringsIsKept() throws {
        #expect(try decode(#"{"a":"x\u0000y"}"#)["a"] == .string("x\u{0}y"))
    }

    @Test func nulInKeysBecomesReplacementCharacter() throws {
        let value = try decode(#"{"a\u0000b":1,"c\\u0000":"\u0000"}"#)
        #expect(value["a\u{FFFD}b"] == .number("1"))
        #expect(value["c\\u0000"] == .string("\u{0}"), "an escaped backslash before u0000 is not a NUL")
    }

    @Test func depthBoundary() throws {
        let limit = Limits.maxDocumentDepth
        let ok = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        let deep = "[" + ok + "]"
        #expect(throws: Never.self) { try decode(ok) }
        #expect(throws: JSONDecoder.Failure(message: "JSON nested deeper than \(limit) levels")) { try decode(deep) }
    }

    @Test(arguments: ["", "not json", "{", #"{"a":}"#, "\u{FF}", #"{"a":"\ud800"}"#, "{} x"])
    func invalidDocuments(text: String) {
        #expect(throws: JSONDecoder.Failure.self) { try decode(text) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONDecoder.Failure.self) { try JSONDecoder.decode([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func compactEscaping() {
        let value = JSONValue.object([JSONMember("k\"", .string("a\nb\u{1}\\ë"))])
        #expect(CompactJSON.string(value) == #"{"k\"":"a\nb\u0001\\ë"}"#)
    }
}
