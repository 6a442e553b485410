/// Small predicates over configuration text, shared by the key parsers.
enum TextRules {
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    static func hasControl(_ text: String) -> Bool { text.utf8.contains(where: isControl) }

    /// Space, tab, CR and LF: what surrounds a value in a file or the environment.
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }

    /// `text` without leading and trailing blanks, cut on bytes: as
    /// Characters, "\r\n" is one that equals neither "\r" nor "\n", and a
    /// blank followed by a combining mark is no blank at all.
    static func trimmed(_ text: String) -> String {
        String(decoding: trimmed(Array(text.utf8)[...]), as: UTF8.self)
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { !isBlank($0) }),
              let last = bytes.lastIndex(where: { !isBlank($0) }) else { return [] }
        return bytes[first...last]
    }

    /// The UTF-8 byte order mark some editors put at the start of a file.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The first line of a secret file (api_key_file, dni_api_key_file,
    /// proxy_auth_file): without a byte order mark, the line end or blanks
    /// around it.
    static func firstLine(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let body = droppingByteOrderMark(bytes[...])
        return trimmed(body.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? [])
    }

    static func droppingByteOrderMark(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        bytes.starts(with: byteOrderMark) ? bytes.dropFirst(byteOrderMark.count) : bytes
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
