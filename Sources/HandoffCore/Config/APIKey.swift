/// The x-api-key secret. Its descriptions never show it, so it cannot leak into
/// a log line or an error message by accident.
public struct APIKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let secret: String
    /// The file it was read from (api_key_file, dni_api_key_file): clients
    /// watch it and use a rotated key without a restart (`RotatingKey`).
    public private(set) var file: String? = nil

    /// `key`: the setting it came from, for the message (api_key, dni_api_key).
    public init(_ value: String, key: String = "api_key") throws(ConfigError) {
        // A CR or LF here would let the key inject headers; refuse any control byte.
        // Blank keys are refused too: curl would drop the empty header and the
        // API would answer 401 for a configuration mistake.
        guard !TextRules.trimmed(value).isEmpty, value.utf8.count <= Limits.maxAPIKeyBytes, !TextRules.hasControl(value) else {
            throw .invalid(key, "must be 1 to \(Limits.maxAPIKeyBytes) bytes, not blank, without control characters")
        }
        secret = value
    }

    /// Reads the key from the first line of a file (a leading UTF-8 byte
    /// order mark is not part of it). Warns once per path when the file can
    /// be read by group or others.
    public init(file path: String, key: String = "api_key_file") throws(ConfigError) {
        guard !path.isEmpty, !TextRules.hasControl(path) else { throw .invalid(key, "must be a file path") }
        let contents: FileAccess.Contents
        do {
            contents = try FileAccess.read(path, limit: Limits.maxAPIKeyFileBytes)
        } catch {
            throw .invalid(key, error.message)
        }
        guard let text = Self.parse(fileBytes: contents.bytes) else {
            throw .invalid(key, "the first line of \(TextRules.quoted(path)) must be the API key (1 to \(Limits.maxAPIKeyBytes) bytes of UTF-8 without control characters)")
        }
        secret = text
        file = path
        if contents.isReadableByOthers { Self.warnReadable(path, key: key, permissions: contents.permissions) }
    }

    /// The key in a key file's bytes: the first line, without a byte order
    /// mark or line end; nil when that is not a valid key.
    static func parse(fileBytes bytes: [UInt8]) -> String? {
        guard let text = String(validating: TextRules.firstLine(bytes), as: UTF8.self), (try? APIKey(text)) != nil else { return nil }
        return text
    }

    /// Paths already warned about: a reload must not repeat the line.
    private static let warnedPaths: Locked<Set<String>> = {
        let paths = Locked<Set<String>>([])
        ForkGuard.protect(paths)
        return paths
    }()

    /// Once per path per process (proxy_auth_file's too).
    static func warnReadable(_ path: String, key: String, permissions: UInt32) {
        let first = warnedPaths.withLock { $0.insert(path).inserted }
        guard first else { return }
        // Logged after the lock is released: a log callback may block.
        let mode = String(permissions, radix: 8)
        Log.write(.warning, "\(key) \(TextRules.quoted(path)) can be read by group or others (mode \(String(repeating: "0", count: max(0, 4 - mode.count)))\(mode)); make it readable by its owner only (chmod 600)")
    }

    /// Never sent: stands in where a client was checked to have a real key.
    static var placeholder: APIKey { (try? APIKey("-")) ?? APIKey(unchecked: "-") }
    private init(unchecked secret: String) { self.secret = secret }

    public var description: String { "<api key>" }
    public var debugDescription: String { "<api key>" }
}
