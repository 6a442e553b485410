/// The x-api-key secret. Its descriptions never show it, so it cannot leak into
/// a log line or an error message by accident.
public struct APIKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let secret: String

    public init(_ value: String) throws(ConfigError) {
        // A CR or LF here would let the key inject headers; refuse any control byte.
        // Blank keys are refused too: curl would drop the empty header and the
        // API would answer 401 for a configuration mistake.
        guard !TextRules.trimmed(value).isEmpty, value.utf8.count <= Limits.maxAPIKeyBytes, !TextRules.hasControl(value) else {
            throw .invalid("api_key", "must be 1 to \(Limits.maxAPIKeyBytes) bytes, not blank, without control characters")
        }
        secret = value
    }

    /// Reads the key from the first line of a file.
    public init(file path: String) throws(ConfigError) {
        let key = "api_key_file"
        guard !path.isEmpty, !TextRules.hasControl(path) else { throw .invalid(key, "must be a file path") }
        let bytes: [UInt8]
        do {
            bytes = try FileAccess.read(path, limit: Limits.maxAPIKeyBytes + 2)
        } catch {
            throw .invalid(key, "\(error.message) \(TextRules.quoted(path))")
        }
        let line = bytes.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let text = TextRules.trimmed(String(decoding: line, as: UTF8.self))
        do {
            try self.init(text)
        } catch {
            throw .invalid(key, "the first line of \(TextRules.quoted(path)) must be the API key")
        }
    }

    public var description: String { "<api key>" }
    public var debugDescription: String { "<api key>" }
}
