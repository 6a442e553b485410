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

    /// Regression: a repeated key failed the whole lookup (jansson's
    /// JSON_REJECT_DUPLICATES). Now the last occurrence's value wins, at the
    /// first occurrence's place, as in JavaScript's JSON.parse and Python.
    @Test func duplicateKeysLastValueWinsAtTheFirstPlace() throws {
        let value = try decode(#"{"a":1,"b":2,"a":{"x":3},"c":4,"b":"five"}"#)
        #expect(value == .object([
            JSONMember("a", .object([JSONMember("x", .number("3"))])), JSONMember("b", .string("five")),
            JSONMember("c", .number("4")),
        ]))
        #expect(CompactJSON.string(value) == #"{"a":{"x":3},"b":"five","c":4}"#)
        #expect(try decode(#"{"o":{"k":1,"k":2},"l":[{"k":1,"k":2}]}"#) == decode(#"{"o":{"k":2},"l":[{"k":2}]}"#))
    }

    /// Keys that become equal once mended (invalid UTF-8, a NUL) are one key too.
    @Test func keysEqualOnceMendedAreDuplicates() throws {
        let body = Array(#"{"a"#.utf8) + [0xFF] + Array(#"":"1","a"#.utf8) + [0xFE] + Array(#"":"2","b":"3"}"#.utf8)
        #expect(try JSONDecoder.decode(body) == .object([JSONMember("a\u{FFFD}", .string("2")), JSONMember("b", .string("3"))]))
        #expect(try decode(#"{"k\u0000":1,"k\ufffd":2}"#) == .object([JSONMember("k\u{FFFD}", .number("2"))]))
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

    @Test(arguments: ["", "not json", "{", #"{"a":}"#, "\u{FF}", "{} x", #"{"a":"\x"}"#])
    func invalidDocuments(text: String) {
        #expect(throws: JSONDecoder.Failure.self) { try decode(text) }
    }

    /// Regression: one string with invalid UTF-8 made jansson refuse the whole
    /// body, and the call lost all its data. Each maximal invalid subsequence
    /// now becomes U+FFFD and the rest of the document is kept.
    @Test func invalidUTF8InStringsIsReplaced() throws {
        func value(_ bytes: [UInt8]) throws -> JSONValue? {
            try JSONDecoder.decode(Array(#"{"a":""#.utf8) + bytes + Array(#"","b":"ok"}"#.utf8))["a"]
        }
        #expect(try value([0x78, 0xFF, 0x79]) == .string("x\u{FFFD}y"))
        #expect(try value([0xC3, 0x28]) == .string("\u{FFFD}("), "a lead byte whose continuation is missing")
        #expect(try value([0xE2, 0x82]) == .string("\u{FFFD}"), "a truncated sequence is one U+FFFD")
        #expect(try value([0xC0, 0xAF]) == .string("\u{FFFD}\u{FFFD}"), "an overlong form: two invalid bytes")
        #expect(try value([0xED, 0xA0, 0x80]) == .string("\u{FFFD}\u{FFFD}\u{FFFD}"), "an encoded surrogate")
        #expect(try value([0xF4, 0x90, 0x80, 0x80]) == .string("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"), "above U+10FFFF")
        #expect(try value(Array("é日📞".utf8)) == .string("é日📞"), "valid text is untouched")
        #expect(try decode(#"{"a":"x","b":"ok"}"#)["b"] == .string("ok"))
    }

    @Test func loneSurrogatesAreReplaced() throws {
        #expect(try decode(#"{"a":"\ud800"}"#)["a"] == .string("\u{FFFD}"))
        #expect(try decode(#"{"a":"\udc00x"}"#)["a"] == .string("\u{FFFD}x"))
        #expect(try decode(#"{"a":"\ud800\u0041"}"#)["a"] == .string("\u{FFFD}A"))
        #expect(try decode(#"{"a":"\ud83d\udcde"}"#)["a"] == .string("📞"), "a surrogate pair is kept")
        #expect(try decode(#"{"\ud800":1}"#)["\u{FFFD}"] == .number("1"), "in a key too")
    }

    @Test func rawControlBytesInStringsBecomeSpaces() throws {
        let body = Array(#"{"a":"x"#.utf8) + [0x09, 0x0A, 0x00] + Array(#"y"}"#.utf8)
        #expect(try JSONDecoder.decode(body)["a"] == .string("x   y"))
    }

    /// At the lookup level: the call keeps its routing data.
    @Test func aBadStringDoesNotFailTheLookup() {
        let body = Array(#"{"id":"c","data":{"handoff_to":"billing","name":"Zo"#.utf8) + [0xEB] + Array(#"","vip":true}}"#.utf8)
        let outcome = ResponseDecoder.success(body, flattener: Flattener(options: RenderOptions()))
        #expect(outcome.status == .ok)
        #expect(outcome.flat?.pairs == [
            HandoffPair(key: "handoff_to", value: "billing"), HandoffPair(key: "name", value: "Zo\u{FFFD}"),
            HandoffPair(key: "vip", value: "true"),
        ])
    }

    @Test func compactEscaping() {
        let value = JSONValue.object([JSONMember("k\"", .string("a\nb\u{1}\\ë"))])
        #expect(CompactJSON.string(value) == #"{"k\"":"a\nb\u0001\\ë"}"#)
    }
}
