/// Small predicates over configuration text, shared by the key parsers.
enum TextRules {
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    static func hasControl(_ text: String) -> Bool { text.utf8.contains(where: isControl) }

    static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }),
              let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }

    /// RFC 3261 token characters, which are all a SIP header name may hold.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "-.!%*_+`'~".utf8.contains(byte)
        }
    }

    static func isVariableByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// A value quoted into an error message: control characters shown as `?`
    /// and cut short, so a hostile value cannot forge log lines.
    static func quoted(_ value: String) -> String {
        let limit = 64
        var shown = String(decoding: value.utf8.prefix(limit).map { isControl($0) ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
        if value.utf8.count > limit { shown += "..." }
        return "\"\(shown)\""
    }
}
