import Testing
@testable import HandoffCore

/// Generated documents: random nesting, unicode, control characters, huge
/// values and colliding keys. Every invariant of the rendering must hold for
/// every one, and parsing must give back exactly what was generated.
@Suite struct PropertyTests {
    static let iterations = 3000

    @Test func renderingInvariants() throws {
        var generator = JSONGenerator(seed: 0x5EED_CAFE)
        for _ in 0..<Self.iterations {
            let data = generator.object(depth: 0)
            let text = CompactJSON.string(.object([JSONMember("id", .string("c")), JSONMember("data", data)]))
            let decoded = try JSONDecoder.decode(Array(text.utf8))
            #expect(decoded["data"] == Self.decoded(data), "round trip: \(text)")

            let options = generator.options()

            // The lookup path flattens jansson's tree in place; it must agree
            // with flattening the parsed value, drops and numbers included.
            let wire = ResponseDecoder.success(Array(text.utf8), flattener: Flattener(options: options))
            let expected = Flattener(options: options).flatten(Self.decoded(data))
            #expect(wire.status == .ok)
            #expect(wire.flat?.pairs.map(\.key) == expected.pairs.map(\.key))
            #expect(wire.flat?.pairs.map(\.value) == expected.pairs.map(\.value))
            #expect(wire.flat?.dropped == expected.dropped)
            var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
            outcome.conversationID = "c"
            outcome.data = data
            let result = Renderer(options: options).result(outcome).rendered()
            try check(result, options: options, data: data)
            let again = Renderer(options: options).result(outcome).rendered()
            #expect(again.headerBlock == result.headerBlock && again.variablesBlock == result.variablesBlock, "deterministic")

            // The same document with invalid UTF-8 in its strings: the lookup
            // still succeeds, and every invariant holds for what it renders.
            let corrupted = generator.corrupt(Array(text.utf8))
            let mended = ResponseDecoder.success(corrupted, flattener: Flattener(options: options))
            #expect(mended.status == .ok, "invalid UTF-8 failed the lookup: \(mended.errorMessage) in \(String(decoding: corrupted, as: UTF8.self))")
            let rendered = Renderer(options: options).result(mended).rendered()
            try check(rendered, options: options, data: nil)
        }
    }

    /// What decoding gives back: a NUL in a key becomes U+FFFD (jansson
    /// refuses NUL keys), then of keys that repeat the last value wins, at the
    /// first one's place.
    static func decoded(_ value: JSONValue) -> JSONValue { lastWins(keysWithoutNUL(value)) }

    static func lastWins(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            var kept: [JSONMember] = []
            for member in members {
                let value = lastWins(member.value)
                // Bytes, not String's canonical equivalence: jansson compares bytes.
                if let index = kept.firstIndex(where: { $0.key.utf8.elementsEqual(member.key.utf8) }) {
                    kept[index] = JSONMember(member.key, value)
                } else {
                    kept.append(JSONMember(member.key, value))
                }
            }
            return .object(kept)
        case .array(let elements): return .array(elements.map(lastWins))
        default: return value
        }
    }

    static func keysWithoutNUL(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            .object(members.map { JSONMember(String($0.key.map { $0 == "\u{0}" ? "\u{FFFD}" : $0 }), keysWithoutNUL($0.value)) })
        case .array(let elements): .array(elements.map(keysWithoutNUL))
        default: value
        }
    }

    /// `data` nil: the document is not known (corrupted), so the count of
    /// what was left out is not checked against it.
    func check(_ result: RenderedResult, options: RenderOptions, data: JSONValue?) throws {
        #expect(result.entries.count <= options.maxEntries)
        let header = options.headerPrefix
        let variable = options.variablePrefix
        var headerNames = Set(["handoff-status", "conversation-id", "shared-id"].map { (header + $0).lowercased() })
        var variableNames = Set(["HANDOFF_STATUS", "CONVERSATION_ID", "SHARED_ID"].map { variable + $0 })
        for entry in result.entries {
            #expect(!entry.headerName.isEmpty && entry.headerName.utf8.allSatisfy(TextRules.isTokenByte), "\(entry.headerName)")
            #expect(entry.variableName.utf8.allSatisfy { TextRules.isVariableByte($0) && !($0 >= 97 && $0 <= 122) })
            #expect(!(entry.variableName.utf8.first.map { $0 >= 48 && $0 <= 57 } ?? true))
            #expect(headerNames.insert(entry.headerName.lowercased()).inserted, "unique header \(entry.headerName)")
            #expect(variableNames.insert(entry.variableName).inserted, "unique variable \(entry.variableName)")
            #expect(entry.value.utf8.count <= options.maxValueBytes)
            #expect(!entry.value.unicodeScalars.contains(where: SafeText.isUnsafe))
            #expect(!entry.key.unicodeScalars.contains(where: SafeText.isUnsafe))
        }
        #expect(result.headerBlock.utf8.count <= options.maxHeaderBlockBytes)
        let lines = result.headerBlock.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        #expect(lines.first.map(String.init) == header + "Handoff-Status: ok")
        for line in lines.dropLast() {
            #expect(!line.contains("\r") && !line.contains("\n"))
            guard let colon = line.firstIndex(of: ":") else {
                Issue.record("no colon in \(line)")
                continue
            }
            #expect(line[..<colon].utf8.allSatisfy(TextRules.isTokenByte))
        }
        for line in result.variablesBlock.split(separator: "\n") {
            #expect(line.prefix { $0 != "=" }.utf8.allSatisfy(TextRules.isVariableByte))
            #expect(!line.contains("\r"))
        }
        // Every leaf is in the header block or counted as truncated (2 meta
        // lines: status, conversation id), unless include/exclude left it out.
        if let data, options.include == nil, options.exclude.isEmpty {
            let inBlock = lines.count - 1 - 2
            #expect(result.truncated >= Flattener.leafCount(data) - inBlock)
        }
    }
}

/// A small seeded generator (SplitMix64), so failures reproduce.
struct JSONGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices[int(0...choices.count - 1)] }

    /// Bounds, prefixes, include/exclude and renames as a configuration may
    /// set them (prefixes from those config accepts).
    mutating func options() -> RenderOptions {
        var options = RenderOptions()
        options.maxValueBytes = int(1...300)
        options.maxEntries = int(0...40)
        options.maxDepth = int(1...10)
        options.maxHeaderBlockBytes = int(128...2048)
        options.headerPrefix = pick(["X-PolyAI-", "X-", "x-acme.", "X-A-b_c-"])
        options.variablePrefix = pick(["POLYAI_", "P", "PBX9_"])
        let patterns = ["a", "a.*", "customer_id", "k*", "*", "0", "ключ*", "x y"]
        if int(0...3) == 0 { options.include = (0..<int(1...3)).compactMap { _ in KeyPattern(pick(patterns)) } }
        if int(0...3) == 0 { options.exclude = (0..<int(1...2)).compactMap { _ in KeyPattern(pick(patterns)) } }
        if int(0...3) == 0 {
            for _ in 0..<int(1...3) {
                options.renames[pick(Self.keyPool) + (int(0...1) == 0 ? "" : "0")] = pick(["X-Queue", "queue", "X Queue!", "📞", "X-PolyAI-Handoff-Status"])
            }
        }
        return options
    }

    /// The bytes with invalid UTF-8 put inside some string values (right after
    /// the quote that opens a value): a lone continuation byte, a lead byte
    /// without its continuation, a byte that never occurs in UTF-8.
    mutating func corrupt(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var index = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            out.append(byte)
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\"), index < bytes.count {
                    out.append(bytes[index])
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: ":"), index < bytes.count, bytes[index] == UInt8(ascii: "\""), int(0...2) == 0 {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: pick([[0x80], [0xC3], [0xE2, 0x82], [0xFF], [0xED, 0xA0, 0x80]]))
                index += 1
                inString = true
            }
        }
        return out
    }

    static let keyPool = ["a", "a.b", "A", "customer_id", "customerId", "customer-id", "CUSTOMER_ID", "handoff_status",
                          "shared_id", "x y", "k:v", "ключ", "📞", "", "0", "\r\n", "tab\t", "nul\u{0}", "\u{2028}"]
    static let scalars: [Unicode.Scalar] = ["a", "Z", "0", " ", ":", "\r", "\n", "\u{0}", "\u{7}", "\u{7F}", "\u{85}",
                                           "\u{2028}", "é", "ß", "こ", "📞", "\"", "\\", "\u{FFFD}"]
    static let numbers = ["0", "-1", "9223372036854775807", "123456789012345678901234567890", "1.10", "1e400", "-0.0", "6.02E23"]

    mutating func string() -> String {
        let length = int(0...5) == 0 ? int(200...600) : int(0...12)
        var text = String.UnicodeScalarView()
        for _ in 0..<length { text.append(Self.scalars[int(0...Self.scalars.count - 1)]) }
        return String(text)
    }

    mutating func key(_ index: Int) -> String {
        int(0...2) == 0 ? string() + String(index) : Self.keyPool[int(0...Self.keyPool.count - 1)] + (int(0...3) == 0 ? "" : String(index))
    }

    mutating func value(depth: Int) -> JSONValue {
        switch int(0...(depth < 6 ? 7 : 5)) {
        case 0, 1: .string(string())
        case 2: .number(Self.numbers[int(0...Self.numbers.count - 1)])
        case 3: .bool(int(0...1) == 0)
        case 4: .null
        case 5: .string(String(repeating: "v", count: int(0...5000)))
        case 6: array(depth: depth + 1)
        default: object(depth: depth + 1)
        }
    }

    mutating func array(depth: Int) -> JSONValue {
        .array((0..<int(0...6)).map { _ in value(depth: depth) })
    }

    /// Now and then a key repeats, as the decoder must accept.
    mutating func object(depth: Int) -> JSONValue {
        var members: [JSONMember] = []
        for index in 0..<int(0...8) {
            let key = !members.isEmpty && int(0...5) == 0 ? pick(members).key : key(index)
            members.append(JSONMember(key, value(depth: depth)))
        }
        return .object(members)
    }
}
