/// One pass over the raw JSON before jansson sees it, for what jansson cannot do:
/// - numbers: jansson turns them into int64 or double, which loses "1.10",
///   "1e400" and 30-digit integers (or rejects them). Each number's place in
///   the original text is noted in `lexemes` and its index left in its
///   place, so a jansson integer node says which lexeme it stands for, in
///   any walk order.
/// - strings jansson would refuse the whole document over (invalid UTF-8,
///   lone surrogates, raw control bytes, `\u0000` in a key): mended by
///   `JSONStringRepair`, so one odd string cannot fail a lookup.
/// - nesting: documents deeper than `maxDepth` are refused before anything
///   recurses over them.
struct JSONPrescan {
    /// The document with every number replaced by its index (and odd strings
    /// mended).
    var masked: [UInt8] = []
    /// Where each number's text is in the scanned bytes, in document order.
    var lexemes: [Range<Int>] = []

    enum Failure: Error, Equatable {
        case invalidNumber
        case tooDeep
    }

    init(scanning bytes: [UInt8], maxDepth: Int) throws(Failure) {
        // Over the bytes in place: this reads every byte of every answer.
        let scan: Result<JSONPrescan, Failure> = bytes.withUnsafeBufferPointer { Self.scan($0, maxDepth: maxDepth) }
        self = try scan.get()
        // Nothing edited (no number, no odd string): the document as it came.
        if masked.isEmpty { masked = bytes }
    }

    private init() {}

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Result<JSONPrescan, Failure> {
        var result = JSONPrescan()
        // Most bodies need a handful of edits: copy the stretches between
        // them in bulk.
        var copied = 0
        var depth = 0
        var index = 0
        func edit(_ range: Range<Int>, _ writeReplacement: (inout [UInt8]) -> Void) {
            if result.masked.isEmpty { result.masked.reserveCapacity(bytes.count) }
            result.masked.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<range.lowerBound]))
            writeReplacement(&result.masked)
            copied = range.upperBound
        }
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let (end, plain) = endOfString(bytes, openingQuote: index)
                if !plain, let fixed = JSONStringRepair.repaired(UnsafeBufferPointer(rebasing: bytes[index..<end]),
                                                                 isKey: isKey(bytes, after: end)) {
                    edit(index..<end) { $0.append(contentsOf: fixed) }
                }
                index = end
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = index + 1
                while end < bytes.count, isNumberByte(bytes[end]) { end += 1 }
                guard isJSONNumber(UnsafeBufferPointer(rebasing: bytes[index..<end])) else { return .failure(.invalidNumber) }
                let number = result.lexemes.count
                edit(index..<end) { DecimalText.append(number, to: &$0) }
                result.lexemes.append(index..<end)
                index = end
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= maxDepth else { return .failure(.tooDeep) }
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                index += 1
            default:
                index += 1
            }
        }
        if copied > 0 { result.masked.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied...])) }
        return .success(result)
    }

    /// The index just past the closing quote (or the end, for an unterminated
    /// string, which jansson then rejects), and whether the string is plain:
    /// printable ASCII without escapes, which nearly every string is and
    /// which needs no mending.
    static func endOfString(_ bytes: UnsafeBufferPointer<UInt8>, openingQuote: Int) -> (end: Int, plain: Bool) {
        var index = openingQuote + 1
        var plain = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { return (index + 1, plain) }
            if byte == UInt8(ascii: "\\") {
                plain = false
                index += 2
                continue
            }
            if byte < 0x20 || byte >= 0x80 { plain = false }
            index += 1
        }
        return (bytes.count, plain)
    }

    /// Whether the string ending before `index` is an object key (a ':' follows).
    static func isKey(_ bytes: UnsafeBufferPointer<UInt8>, after index: Int) -> Bool {
        var next = index
        while next < bytes.count, bytes[next] == 0x20 || bytes[next] == 0x09 || bytes[next] == 0x0A || bytes[next] == 0x0D {
            next += 1
        }
        return next < bytes.count && bytes[next] == UInt8(ascii: ":")
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
    static func isJSONNumber(_ lexeme: UnsafeBufferPointer<UInt8>) -> Bool {
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
