#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How requests leave the host, as operators run PBXs: through an HTTP
/// proxy (CONNECT tunnels for https only), from a chosen interface or
/// address, over IPv4 or IPv6 only, to pinned addresses (split DNS).
public struct Egress: Sendable, Equatable {
    public enum Proxy: Sendable, Equatable {
        /// The default: no proxy, whatever the environment says.
        case none
        /// https_proxy (or HTTPS_PROXY) and no_proxy (NO_PROXY), read when
        /// the client is made.
        case environment
        /// http://host:port or https://host:port
        case url(String)
    }

    public enum IPVersion: String, Sendable, Equatable {
        case any, v4 = "4", v6 = "6"
    }

    public var proxy = Proxy.none
    /// "user:password" from proxy_auth_file: a secret, redacted everywhere.
    public var proxyCredentials: String? = nil
    /// proxy_auth_file itself, watched for rotation like api_key_file.
    public var proxyCredentialsFile: String? = nil
    public var interface: String? = nil
    public var ipVersion = IPVersion.any
    /// curl --resolve entries: "host:port:address[,address]".
    public var resolve: [String] = []

    public init() {}

    // MARK: parsing the settings

    static func proxy(_ value: String) throws(ConfigError) -> Proxy {
        let key = "proxy"
        let text = TextRules.trimmed(value)
        if text == "none" { return .none }
        if text == "env" { return .environment }
        return .url(try proxyURL(text, key: key))
    }

    /// http(s)://host:port, ASCII, no credentials (those come from
    /// proxy_auth_file only: a URL is logged, quoted, shown in ps).
    static func proxyURL(_ text: String, key: String) throws(ConfigError) -> String {
        let bytes = Array(text.utf8)
        let usage = "must be none, env, or http://host:port or https://host:port (got \(TextRules.quoted(text)))"
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .invalid(key, usage) }
        let rest: ArraySlice<UInt8>
        if BaseURL.hasPrefix(bytes, "http://") {
            rest = bytes.dropFirst("http://".utf8.count)
        } else if BaseURL.hasPrefix(bytes, "https://") {
            rest = bytes.dropFirst("https://".utf8.count)
        } else {
            throw .invalid(key, usage)
        }
        var authority = rest
        while authority.last == UInt8(ascii: "/") { authority = authority.dropLast() }
        guard !authority.contains(UInt8(ascii: "/")), !authority.contains(UInt8(ascii: "?")), !authority.contains(UInt8(ascii: "#")) else {
            throw .invalid(key, usage)
        }
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw .invalid(key, "must not contain credentials: put user:password in proxy_auth_file")
        }
        let host = BaseURL.host(of: authority)
        let afterHost = authority.dropFirst(host.count + (authority.first == UInt8(ascii: "[") ? 2 : 0))
        guard !host.isEmpty, afterHost.first == UInt8(ascii: ":"),
              let port = Int(String(decoding: afterHost.dropFirst(), as: UTF8.self)), (1...65535).contains(port) else {
            throw .invalid(key, usage)
        }
        return String(decoding: bytes[..<(bytes.count - (rest.count - authority.count))], as: UTF8.self)
    }

    /// The first line of the file, "user:password".
    static func credentials(file path: String) throws(ConfigError) -> String {
        let key = "proxy_auth_file"
        guard !path.isEmpty, !TextRules.hasControl(path) else { throw .invalid(key, "must be a file path") }
        let contents: FileAccess.Contents
        do {
            contents = try FileAccess.read(path, limit: Limits.maxAPIKeyFileBytes)
        } catch {
            throw .invalid(key, error.message)
        }
        guard let text = parseCredentials(fileBytes: contents.bytes) else {
            throw .invalid(key, "the first line of \(TextRules.quoted(path)) must be user:password")
        }
        // Once per path: a Kamailio reload RPC reads it again in every process.
        if contents.isReadableByOthers { APIKey.warnReadable(path, key: key, permissions: contents.permissions) }
        return text
    }

    /// The first line of a proxy_auth_file's bytes if it is "user:password"
    /// (a user of at least one byte, no control characters), else nil.
    static func parseCredentials(fileBytes bytes: [UInt8]) -> String? {
        let line = TextRules.firstLine(bytes)
        guard let text = String(validating: line, as: UTF8.self), !TextRules.hasControl(text),
              let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else { return nil }
        return text
    }

    static func interface(_ value: String) throws(ConfigError) -> String? {
        let text = TextRules.trimmed(value)
        guard !text.isEmpty else { return nil }
        guard text.utf8.count <= Limits.maxInterfaceBytes, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalid("interface", "must be an interface name or address of at most \(Limits.maxInterfaceBytes) characters (got \(TextRules.quoted(value)))")
        }
        return text
    }

    static func ipVersion(_ value: String) throws(ConfigError) -> IPVersion {
        guard let version = IPVersion(rawValue: TextRules.trimmed(value)) else {
            throw .invalid("ip_version", "must be any, 4 or 6 (got \(TextRules.quoted(value)))")
        }
        return version
    }

    /// Entries separated by spaces or ";", each host:port:address with one
    /// or more comma-separated addresses (IPv6 in brackets).
    static func resolve(_ value: String) throws(ConfigError) -> [String] {
        let key = "resolve"
        let entries = value.utf8.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ";") || $0 == 0x09 })
        guard entries.count <= Limits.maxResolveEntries else { throw .invalid(key, "at most \(Limits.maxResolveEntries) entries") }
        return try entries.map { (entry: Substring.UTF8View.SubSequence) throws(ConfigError) -> String in
            let text = String(decoding: entry, as: UTF8.self)
            let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
                  let port = Int(parts[1]), (1...65535).contains(port),
                  parts[2].split(separator: ",", omittingEmptySubsequences: false).allSatisfy({ isAddress(String($0)) }) else {
                throw .invalid(key, "must be host:port:address entries (an IPv6 address in brackets), separated by spaces (got \(TextRules.quoted(text)))")
            }
            return text
        }
    }

    static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        if text.hasPrefix("["), text.hasSuffix("]") {
            return inet_pton(AF_INET6, String(text.dropFirst().dropLast()), &v6) == 1
        }
        return inet_pton(AF_INET, text, &v4) == 1
    }

    /// The proxy a client made now uses for https, nil for none: `.environment`
    /// read here, once.
    func effectiveProxy(environment: [String: String]) -> (url: String, noProxy: String)? {
        switch proxy {
        case .none:
            return nil
        case .url(let url):
            return (url, "")
        case .environment:
            guard let url = environment["https_proxy"] ?? environment["HTTPS_PROXY"], !url.isEmpty,
                  let valid = try? Self.proxyURL(url, key: "https_proxy") else { return nil }
            return (valid, environment["no_proxy"] ?? environment["NO_PROXY"] ?? "")
        }
    }
}
