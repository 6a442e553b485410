/// One pass over the raw JSON before jansson sees it, for what jansson cannot do:
/// - numbers: jansson turns them into int64 or double, which loses "1.10",
///   "1e400" and 30-digit integers (or rejects them). Each number is lifted out
///   exactly as written and a `0` left in its place.
/// - `\u0000` in object keys, which jansson refuses even with JSON_ALLOW_NUL:
///   rewritten to `\ufffd` (same length), so one odd key cannot fail a lookup.
/// - nesting: documents deeper than `maxDepth` are refused before anything
///   recurses over them.
struct JSONPrescan {
    /// The document with every number replaced by `0`.
    var masked: [UInt8] = []
    /// The numbers, in document order.
    var lexemes: [String] = []

    enum Failure: Error, Equatable {
        case invalidNumber
        case tooDeep
    }

    init(scanning bytes: [UInt8], maxDepth: Int) throws(Failure) {
        masked.reserveCapacity(bytes.count)
        var depth = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let end = Self.endOfString(bytes, openingQuote: index)
                let start = masked.count
                masked.append(contentsOf: bytes[index..<end])
                if Self.isKey(bytes, after: end) { Self.replaceNULEscapes(in: &masked, from: start) }
                index = end
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = index + 1
                while end < bytes.count, Self.isNumberByte(bytes[end]) { end += 1 }
                let lexeme = bytes[index..<end]
                guard Self.isJSONNumber(lexeme) else { throw .invalidNumber }
                lexemes.append(String(decoding: lexeme, as: UTF8.self))
                masked.append(UInt8(ascii: "0"))
                index = end
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= maxDepth else { throw .tooDeep }
                masked.append(byte)
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                masked.append(byte)
                index += 1
            default:
                masked.append(byte)
                index += 1
            }
        }
    }

    /// The index just past the closing quote, or the end for an unterminated
    /// string (which jansson then rejects).
    static func endOfString(_ bytes: [UInt8], openingQuote: Int) -> Int {
        var index = openingQuote + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return bytes.count
    }

    /// Whether the string ending before `index` is an object key (a ':' follows).
    static func isKey(_ bytes: [UInt8], after index: Int) -> Bool {
        var next = index
        while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
        return next < bytes.count && bytes[next] == UInt8(ascii: ":")
    }

    /// Rewrites each `\u0000` escape of the string starting at `start`.
    static func replaceNULEscapes(in text: inout [UInt8], from start: Int) {
        let nul = Array(#"\u0000"#.utf8)
        let replacement = Array(#"\ufffd"#.utf8)
        var index = start + 1
        while index < text.count {
            guard text[index] == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            if index + nul.count <= text.count, text[index..<index + nul.count].elementsEqual(nul) {
                text.replaceSubrange(index..<index + nul.count, with: replacement)
            }
            index += 2
        }
    }

    static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"),
             UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
            true
        default:
            false
        }
    }

    /// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    static func isJSONNumber(_ lexeme: ArraySlice<UInt8>) -> Bool {
        var rest = lexeme[...]
        func digits() -> Int {
            let count = rest.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            rest = rest.dropFirst(count)
            return count
        }
        if rest.first == UInt8(ascii: "-") { rest = rest.dropFirst() }
        if rest.first == UInt8(ascii: "0") {
            rest = rest.dropFirst()
        } else if digits() == 0 {
            return false
        }
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            if digits() == 0 { return false }
        }
        if rest.first == UInt8(ascii: "e") || rest.first == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-") { rest = rest.dropFirst() }
            if digits() == 0 { return false }
        }
        return rest.isEmpty
    }
}
