/// The request URI split into decoded path segments and query parameters.
/// `+` stays a literal '+': the library sends spaces as %20, and treating
/// '+' as a space would corrupt ids that contain one.
struct RequestTarget {
    /// The path exactly as sent, for fixed routes such as /_sandbox/stats.
    let rawPath: String
    /// Segments between '/', percent-decoded; nil when any is malformed.
    let segments: [String]?
    /// Parameters in order, percent-decoded; nil when any is malformed.
    let query: [(name: String, value: String)]?

    init(uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        rawPath = parts.first.map(String.init) ?? ""
        segments = Self.decodeAll(rawPath.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        var query: [(name: String, value: String)]? = []
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = Self.percentDecoded(halves[0]),
                      let value = halves.count > 1 ? Self.percentDecoded(halves[1]) : ""
                else {
                    query = nil
                    break
                }
                query?.append((name, value))
            }
        }
        self.query = query
    }

    /// The first value of a parameter, or nil when absent.
    func parameter(_ name: String) -> String? {
        query?.first { $0.name == name }?.value
    }

    private static func decodeAll(_ pieces: ArraySlice<Substring>) -> [String]? {
        var decoded: [String] = []
        for piece in pieces {
            guard let text = percentDecoded(piece) else { return nil }
            decoded.append(text)
        }
        return decoded
    }

    /// Decodes %XX escapes; nil for a bad escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.popFirst().flatMap(hexValue), let low = utf8.popFirst().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
