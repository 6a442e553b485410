/// Mends one JSON string token (quotes included) so that jansson accepts the
/// document: jansson refuses the whole body over one bad string, and the
/// call would lose all its data. Every repair gives the text the rendering
/// would show anyway:
/// - invalid UTF-8: each maximal invalid subsequence becomes U+FFFD;
/// - a lone surrogate escape (`\ud800` without its pair, or `\udc00` alone)
///   becomes `\ufffd`;
/// - a raw control byte (which JSON forbids inside strings) becomes a space;
/// - in an object key only, `\u0000` becomes `\ufffd`: jansson refuses NUL
///   in keys even with JSON_ALLOW_NUL (in values it is kept and rendered as
///   a space).
/// Two keys of one object mended to the same text ("a\xff" and "a\xfe" both
/// become "a\u{FFFD}") are then one repeated key: the last value wins (see
/// `JSONDecoder`).
enum JSONStringRepair {
    /// The mended token, or nil when it needs nothing (the common case: valid
    /// non-ASCII text is only read, never copied).
    static func repaired(_ text: UnsafeBufferPointer<UInt8>, isKey: Bool) -> [UInt8]? {
        var out: [UInt8]? = nil  // made at the first change
        var index = 0
        func keep(_ count: Int) {
            out?.append(contentsOf: UnsafeBufferPointer(rebasing: text[index..<index + count]))
            index += count
        }
        func replace(_ count: Int, with replacement: [UInt8]) {
            if out == nil {
                var copy = Array(UnsafeBufferPointer(rebasing: text[..<index]))
                copy.reserveCapacity(text.count + 8)
                out = copy
            }
            out?.append(contentsOf: replacement)
            index += count
        }
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "\\"), index + 1 < text.count {
                guard text[index + 1] == UInt8(ascii: "u"), let unit = hexUnit(text, at: index + 2) else {
                    keep(2)
                    continue
                }
                let isHigh = (0xD800...0xDBFF).contains(unit)
                if isHigh, let next = hexUnit(text, at: index + 8), (0xDC00...0xDFFF).contains(next),
                   text[index + 6] == UInt8(ascii: "\\"), text[index + 7] == UInt8(ascii: "u") {
                    keep(12)  // a surrogate pair
                } else if (0xD800...0xDFFF).contains(unit) || (isKey && unit == 0) {
                    replace(6, with: replacementEscape)
                } else {
                    keep(6)
                }
            } else if byte < 0x20 {
                replace(1, with: space)
            } else if byte < 0x80 {
                keep(1)
            } else {
                let length = validSequenceLength(text, at: index)
                if length > 0 {
                    keep(length)
                } else {
                    replace(maximalInvalidPrefix(text, at: index), with: replacementCharacter)
                }
            }
        }
        return out
    }

    private static let replacementEscape = Array(#"\ufffd"#.utf8)
    private static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]
    private static let space: [UInt8] = [0x20]

    /// The value of the 4 hex digits at `index`, or nil.
    private static func hexUnit(_ text: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        guard index >= 0, index + 4 <= text.count else { return nil }
        var value = 0
        for offset in 0..<4 {
            let byte = text[index + offset]
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
            value = value * 16 + digit
        }
        return value
    }

    /// The allowed range of each continuation byte after `lead`
    /// (Unicode's table of well-formed UTF-8), or nil for a byte that
    /// cannot start a sequence.
    private static func continuationRanges(lead: UInt8) -> [ClosedRange<UInt8>]? {
        switch lead {
        case 0xC2...0xDF: [0x80...0xBF]
        case 0xE0: [0xA0...0xBF, 0x80...0xBF]
        case 0xE1...0xEC, 0xEE...0xEF: [0x80...0xBF, 0x80...0xBF]
        case 0xED: [0x80...0x9F, 0x80...0xBF]
        case 0xF0: [0x90...0xBF, 0x80...0xBF, 0x80...0xBF]
        case 0xF1...0xF3: [0x80...0xBF, 0x80...0xBF, 0x80...0xBF]
        case 0xF4: [0x80...0x8F, 0x80...0xBF, 0x80...0xBF]
        default: nil
        }
    }

    /// The length of the well-formed sequence at `index`, or 0.
    private static func validSequenceLength(_ text: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        guard let ranges = continuationRanges(lead: text[index]), index + ranges.count < text.count else { return 0 }
        for (offset, range) in ranges.enumerated() where !range.contains(text[index + 1 + offset]) { return 0 }
        return 1 + ranges.count
    }

    /// How many bytes one U+FFFD replaces: the lead and the continuation
    /// bytes that were still valid before the sequence broke off.
    private static func maximalInvalidPrefix(_ text: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        guard let ranges = continuationRanges(lead: text[index]) else { return 1 }
        var length = 1
        for range in ranges {
            guard index + length < text.count, range.contains(text[index + length]) else { break }
            length += 1
        }
        return length
    }
}
