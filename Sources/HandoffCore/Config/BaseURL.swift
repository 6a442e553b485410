/// A validated API base URL: https anywhere, http only to a loopback host (the
/// sandbox, a local proxy), so the API key never crosses a network in clear.
public struct BaseURL: Sendable, Equatable {
    /// Scheme, host, optional port and path prefix, without a trailing slash.
    public let text: String
    public let isHTTPS: Bool

    public init(_ raw: String) throws(ConfigError) {
        let key = "base_url"
        guard !TextRules.hasControl(raw), !raw.contains(" ") else {
            throw .invalid(key, "must not contain spaces or control characters")
        }
        let lower = raw.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            isHTTPS = true
            rest = raw.dropFirst("https://".count)
        } else if lower.hasPrefix("http://") {
            isHTTPS = false
            rest = raw.dropFirst("http://".count)
        } else {
            throw .invalid(key, "must start with https:// (got \(TextRules.quoted(raw)))")
        }
        guard !rest.contains("?"), !rest.contains("#") else {
            throw .invalid(key, "must not contain a query or fragment")
        }
        let authority = rest.prefix { $0 != "/" }
        guard !authority.contains("@") else { throw .invalid(key, "must not contain credentials") }
        let host = Self.host(of: authority)
        guard !host.isEmpty else { throw .invalid(key, "has no host") }
        if !isHTTPS && !Self.isLoopback(host) {
            throw .invalid(key, "http:// is only allowed to a loopback host; use https:// for \(TextRules.quoted(String(host)))")
        }
        var text = raw
        while text.hasSuffix("/") { text.removeLast() }
        self.text = text
    }

    /// The host part of "host:port", "[v6]:port" or "host".
    static func host(of authority: Substring) -> Substring {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "" }
            return authority[authority.index(after: authority.startIndex)..<close]
        }
        return authority.prefix { $0 != ":" }
    }

    static func isLoopback(_ host: Substring) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            guard let octet = UInt8(part), String(octet) == part else { return false }
            return true
        }
    }
}
