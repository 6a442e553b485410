/// Replaces every secret of a configuration with a placeholder in a message
/// the library is about to store, return or log. A server may echo a request
/// header (`x-api-key`) into its `error_message`, and a mistyped setting may
/// quote a value that is the key: neither may reach a host's logs.
///
/// Matching is on UTF-8 bytes, not Characters: a secret followed by a
/// combining mark is one Character with it, and must still be found.
public struct SecretRedactor: Sendable, Equatable {
    /// What stands for the API key (and, for now, any other secret).
    public static let apiKeyPlaceholder = "<api key>"

    private struct Secret: Sendable, Equatable {
        let bytes: [UInt8]
        let placeholder: [UInt8]
    }

    /// Longest first, so a secret that contains another is replaced whole.
    private let secrets: [Secret]

    /// `secrets`: each secret with the text that replaces it. Empty secrets
    /// are ignored.
    public init(_ secrets: [(secret: String, placeholder: String)]) {
        self.secrets = secrets
            .filter { !$0.secret.utf8.isEmpty }
            .map { Secret(bytes: Array($0.secret.utf8), placeholder: Array($0.placeholder.utf8)) }
            .sorted { $0.bytes.count > $1.bytes.count }
    }

    /// One that redacts nothing.
    public static let none = SecretRedactor([])

    /// Both redactors' secrets.
    public func adding(_ other: SecretRedactor) -> SecretRedactor {
        SecretRedactor(secrets: (secrets + other.secrets).sorted { $0.bytes.count > $1.bytes.count })
    }

    private init(secrets: [Secret]) { self.secrets = secrets }

    /// `message` with every occurrence of every secret replaced.
    public func redact(_ message: String) -> String {
        guard !secrets.isEmpty else { return message }
        let bytes = Array(message.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var replaced = false
        var index = 0
        scan: while index < bytes.count {
            for secret in secrets where Self.matches(secret.bytes, in: bytes, at: index) {
                out.append(contentsOf: secret.placeholder)
                index += secret.bytes.count
                replaced = true
                continue scan
            }
            out.append(bytes[index])
            index += 1
        }
        guard replaced else { return message }
        // Secrets are whole UTF-8 strings, so a match starts and ends on
        // scalar boundaries of valid text and the result stays valid.
        return String(decoding: out, as: UTF8.self)
    }

    private static func matches(_ needle: [UInt8], in haystack: [UInt8], at index: Int) -> Bool {
        guard haystack.count - index >= needle.count else { return false }
        var offset = 0
        while offset < needle.count {
            if haystack[index + offset] != needle[offset] { return false }
            offset += 1
        }
        return true
    }
}
