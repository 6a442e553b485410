/// A strict RFC 8259 reader that builds `RawJSON`, keeping each number's
/// lexeme and each string's escapes. Foundation's JSONSerialization would
/// turn `1234.50` into a Double and reorder keys, which is the one thing the
/// sandbox must not do.
struct RawJSONReader {
    /// Deeper documents are refused so a hostile fixture cannot exhaust the stack.
    static let maxDepth = 256

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    /// Parses one complete document. A leading UTF-8 byte order mark is skipped.
    static func parse(_ bytes: [UInt8]) throws(RawJSONError) -> RawJSON {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw RawJSONError(message: "file is not valid UTF-8", line: 1, column: 1)
        }
        var reader = RawJSONReader(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        reader.skipWhitespace()
        let value = try reader.readValue()
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.error("unexpected text after the document") }
        return value
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func readValue() throws(RawJSONError) -> RawJSON {
        guard let byte = current else { throw error("unexpected end of file") }
        switch byte {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        default: throw error("unexpected character")
        }
    }

    private mutating func readObject() throws(RawJSONError) -> RawJSON {
        try enterContainer()
        var members: [RawMember] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "expected ':' after the key")
            skipWhitespace()
            members.append(RawMember(key: key, value: try readValue()))
            skipWhitespace()
            if current == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"), "expected ',' or '}' in the object")
            depth -= 1
            return .object(members)
        }
    }

    private mutating func readArray() throws(RawJSONError) -> RawJSON {
        try enterContainer()
        var elements: [RawJSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try readValue())
            skipWhitespace()
            if current == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"), "expected ',' or ']' in the array")
            depth -= 1
            return .array(elements)
        }
    }

    private mutating func enterContainer() throws(RawJSONError) {
        guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
        depth += 1
        index += 1
    }

    /// Reads `"…"`, keeping the raw bytes between the quotes and decoding a copy.
    private mutating func readString() throws(RawJSONError) -> RawString {
        index += 1
        let start = index
        var decoded = String.UnicodeScalarView()
        var plainStart = index
        while true {
            guard let byte = current else { throw error("unterminated string") }
            if byte == UInt8(ascii: "\"") {
                decoded.append(contentsOf: String(decoding: bytes[plainStart..<index], as: UTF8.self).unicodeScalars)
                let escaped = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return RawString(escaped: escaped, value: String(decoded))
            }
            if byte < 0x20 { throw error("control character in a string must be escaped") }
            if byte == UInt8(ascii: "\\") {
                decoded.append(contentsOf: String(decoding: bytes[plainStart..<index], as: UTF8.self).unicodeScalars)
                decoded.append(try readEscape())
                plainStart = index
            } else {
                index += 1
            }
        }
    }

    /// Decodes one escape sequence starting at the backslash.
    private mutating func readEscape() throws(RawJSONError) -> Unicode.Scalar {
        index += 1
        guard let letter = current else { throw error("unterminated escape") }
        index += 1
        switch letter {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"): break
        default:
            index -= 1
            throw error("invalid escape")
        }
        let first = try readHex4()
        if (0xD800...0xDBFF).contains(first) {
            guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                throw error("unpaired surrogate in \\u escape")
            }
            index += 2
            let second = try readHex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw error("unpaired surrogate in \\u escape") }
            let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            guard let scalar = Unicode.Scalar(combined) else { throw error("invalid \\u escape") }
            return scalar
        }
        guard let scalar = Unicode.Scalar(first) else { throw error("unpaired surrogate in \\u escape") }
        return scalar
    }

    private mutating func readHex4() throws(RawJSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = Self.hexValue(byte) else { throw error("expected four hex digits after \\u") }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Checks the RFC 8259 number grammar and returns the lexeme unchanged.
    private mutating func readNumber() throws(RawJSONError) -> String {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
            if let next = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next) {
                throw error("invalid number: leading zero")
            }
        } else {
            guard skipDigits() > 0 else { throw error("invalid number") }
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { throw error("invalid number: digits must follow '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { throw error("invalid number: digits must follow the exponent") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        return index - start
    }

    private mutating func expectWord(_ word: String) throws(RawJSONError) {
        for expected in word.utf8 {
            guard current == expected else { throw error("invalid literal, expected \(word)") }
            index += 1
        }
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws(RawJSONError) {
        guard current == byte else { throw error(message) }
        index += 1
    }

    private mutating func skipWhitespace() {
        while let byte = current,
              byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
            index += 1
        }
    }

    /// An error pointing at the current position, counted in lines and bytes.
    private func error(_ message: String) -> RawJSONError {
        let upTo = bytes[..<min(index, bytes.count)]
        let line = upTo.count { $0 == UInt8(ascii: "\n") } + 1
        let lineStart = upTo.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        return RawJSONError(message: message, line: line, column: index - lineStart + 1)
    }
}

struct RawJSONError: Error, Sendable, CustomStringConvertible {
    let message: String
    let line: Int
    let column: Int

    var description: String { "line \(line), column \(column): \(message)" }
}
