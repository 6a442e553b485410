import Testing
@testable import HandoffCore

/// The byte-level path every lookup takes: SafeText.append and FlatEntries.
@Suite struct FlattenTests {
    func safe(_ bytes: [UInt8], max: Int) -> (text: [UInt8], cut: Bool) {
        var out: [UInt8] = []
        let cut = bytes.withUnsafeBufferPointer { SafeText.append($0, maxBytes: max, to: &out) }
        return (out, cut)
    }

    @Test func plainASCIIIsCopiedAsIs() {
        #expect(safe(Array("billing".utf8), max: 7) == (Array("billing".utf8), false))
        #expect(safe(Array("billing".utf8), max: 6) == (Array("billin".utf8), true))
        #expect(safe([], max: 1) == ([], false))
    }

    @Test func controlCharactersBecomeSpaces() {
        // CR, LF, NUL, DEL, C1 (U+0085), U+2028: each one space, whatever its width.
        let input = Array("a\r\nb\u{0}c\u{7F}d\u{85}e\u{2028}f".utf8)
        #expect(safe(input, max: 100) == (Array("a  b c d e f".utf8), false))
    }

    @Test func cutsBetweenCharactersNeverInside() {
        let input = Array("aé日📞".utf8)  // 1 + 2 + 3 + 4 bytes
        #expect(safe(input, max: 10).text == input)
        #expect(safe(input, max: 9) == (Array("aé日".utf8), true))
        #expect(safe(input, max: 5) == (Array("aé".utf8), true))
        #expect(safe(input, max: 2) == (Array("a".utf8), true))
        #expect(safe(input, max: 0) == ([], true))
    }

    @Test func invalidUTF8BecomesReplacementCharacters() {
        let input: [UInt8] = [0x61, 0xFF, 0x62, 0xC3, 0x28, 0xE2, 0x82]
        let (text, cut) = safe(input, max: 100)
        #expect(String(validating: text, as: UTF8.self) == "a\u{FFFD}b\u{FFFD}(\u{FFFD}")
        #expect(!cut)
    }

    @Test func sameAsTheStringPath() {
        var generator = JSONGenerator(seed: 42)
        for _ in 0..<2000 {
            let text = generator.string()
            let max = generator.int(0...40)
            let viaString = SafeText.make(text, maxBytes: max)
            #expect(safe(Array(text.utf8), max: max) == (Array(viaString.text.utf8), viaString.wasCut))
        }
    }

    @Test func entriesAreNULSeparatedAndReadBack() throws {
        let data = try JSONDecoder.decode(Array(#"{"a":"x\u0000y","b":{"c":[1.50,true,null]},"d\u0007":"v"}"#.utf8))
        let flat = Flattener(options: RenderOptions()).flatten(data)
        #expect(flat.pairs == [
            HandoffPair(key: "a", value: "x y"), HandoffPair(key: "b.c.0", value: "1.50"),
            HandoffPair(key: "b.c.1", value: "true"), HandoffPair(key: "b.c.2", value: ""),
            HandoffPair(key: "d ", value: "v"),
        ])
        #expect(flat.bytes.filter { $0 == 0 }.count == 2 * flat.count, "one NUL after each key and value")
        #expect(flat.offsets.count == 2 * flat.count)
        #expect(flat.dropped == 0 && flat.cut == 0)
    }

    @Test func keysLongerThanTheLimitAreCut() throws {
        let long = String(repeating: "k", count: Limits.maxKeyBytes + 10)
        let data = try JSONDecoder.decode(Array(#"{"\#(long)":"v"}"#.utf8))
        let flat = Flattener(options: RenderOptions()).flatten(data)
        #expect(flat.key(at: 0).utf8.count == Limits.maxKeyBytes)
        #expect(flat.cut == 1, "a cut key is counted, never silent")
        let exact = try JSONDecoder.decode(Array(#"{"\#(String(repeating: "k", count: Limits.maxKeyBytes))":"v"}"#.utf8))
        #expect(Flattener(options: RenderOptions()).flatten(exact).cut == 0)
    }

    @Test func arrayIndexesAreDecimal() throws {
        let elements = (0..<12).map(String.init).joined(separator: ",")
        let data = try JSONDecoder.decode(Array(#"{"list":[\#(elements)]}"#.utf8))
        var options = RenderOptions()
        options.maxEntries = 100
        let keys = Flattener(options: options).flatten(data).pairs.map(\.key)
        #expect(keys == (0..<12).map { "list.\($0)" })
    }

    @Test func patternsMatchKeyBytes() throws {
        let prefix = try #require(KeyPattern("customer.*"))
        let exact = try #require(KeyPattern("queue"))
        #expect(prefix.matches("customer.tier") && prefix.matches("customer.") && !prefix.matches("customer"))
        #expect(exact.matches("queue") && !exact.matches("queue2") && !exact.matches("queu"))
        #expect(try #require(KeyPattern("*")).matches(""))
    }
}
