/// A validated API base URL: https anywhere, http only to a loopback host (the
/// sandbox, a local proxy), so the API key never crosses a network in clear.
///
/// Checked on UTF-8 bytes, as libcurl parses it: as Swift Characters, "@"
/// followed by a combining mark is one Character that is not "@", and
/// credentials would slip past the check.
public struct BaseURL: Sendable, Equatable {
    /// Scheme, host, optional port and path prefix, without a trailing slash.
    public let text: String
    public let isHTTPS: Bool

    public init(_ raw: String) throws(ConfigError) {
        let key = "base_url"
        let bytes = Array(raw.utf8)
        guard !bytes.contains(where: { TextRules.isControl($0) || $0 == UInt8(ascii: " ") }) else {
            throw .invalid(key, "must not contain spaces or control characters")
        }
        // Beyond ASCII, look-alikes (U+FF20 FULLWIDTH COMMERCIAL AT) are
        // mapped by IDN after curl has split the URL; an international host
        // name goes in as xn--...
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            throw .invalid(key, "must be ASCII: write an international host name as xn--..., percent-encode the path (got \(TextRules.quoted(raw)))")
        }
        let rest: ArraySlice<UInt8>
        if Self.hasPrefix(bytes, "https://") {
            isHTTPS = true
            rest = bytes.dropFirst("https://".utf8.count)
        } else if Self.hasPrefix(bytes, "http://") {
            isHTTPS = false
            rest = bytes.dropFirst("http://".utf8.count)
        } else {
            throw .invalid(key, "must start with https:// (got \(TextRules.quoted(raw)))")
        }
        guard !rest.contains(UInt8(ascii: "?")), !rest.contains(UInt8(ascii: "#")) else {
            throw .invalid(key, "must not contain a query or fragment")
        }
        let authority = rest.prefix { $0 != UInt8(ascii: "/") }
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw .invalid(key, "must not contain credentials")
        }
        let host = Self.host(of: authority)
        guard !host.isEmpty else { throw .invalid(key, "has no host") }
        if !isHTTPS && !Self.isLoopback(host) {
            throw .invalid(key, "http:// is only allowed to a loopback host; use https:// for \(TextRules.quoted(String(decoding: host, as: UTF8.self)))")
        }
        var end = bytes.count
        while end > 0 && bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        text = String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// Case-insensitive ASCII prefix.
    static func hasPrefix(_ bytes: [UInt8], _ prefix: String) -> Bool {
        let prefix = Array(prefix.utf8)
        guard bytes.count >= prefix.count else { return false }
        return zip(bytes, prefix).allSatisfy { lower($0) == $1 }
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// The host part of "host:port", "[v6]:port" or "host".
    static func host(of authority: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return [] }
            return authority[(authority.startIndex + 1)..<close]
        }
        return authority.prefix { $0 != UInt8(ascii: ":") }
    }

    static func isLoopback(_ host: ArraySlice<UInt8>) -> Bool {
        let host = host.map(lower)
        if host.elementsEqual("localhost".utf8) || host.elementsEqual("::1".utf8) { return true }
        let parts = host.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].elementsEqual("127".utf8) else { return false }
        return parts.allSatisfy { part in
            guard let octet = UInt8(String(decoding: part, as: UTF8.self)), String(octet).utf8.elementsEqual(part) else {
                return false
            }
            return true
        }
    }
}
