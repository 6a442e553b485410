/// The client configuration: one value, edited key by key through `set`, which
/// validates before it changes anything.
public struct HandoffConfig: Sendable, Equatable {
    public var region: Region = .us1
    public var baseURL: BaseURL? = nil
    public var accountID: String? = nil
    public var projectID: String? = nil
    public var apiKey: APIKey? = nil
    /// The key of DNI reservations; nil: `apiKey`.
    public var dniAPIKey: APIKey? = nil
    public var timeoutMs = Limits.defaultTimeoutMs
    public var connectTimeoutMs: Int? = nil
    public var caFile: String? = nil
    public var userAgent = "polyai-handoff/\(LibraryVersion.string)"
    public var maxResponseBytes = Limits.defaultMaxResponseBytes
    public var render = RenderOptions()
    public var retries = Limits.defaultRetries
    public var breakerFailures = Limits.defaultBreakerFailures
    public var breakerCooldownMs = Limits.defaultBreakerCooldownMs
    public var maxInFlight = Limits.defaultMaxInFlight
    public var cacheTTLMs = 0
    public var cacheMaxEntries = Limits.defaultCacheMaxEntries
    public var maxConnections = Limits.defaultMaxConnections
    /// Connections handoff_client_new and handoff_init open before the
    /// first lookup (0: none); handoff_client_warm opens this many, at least 1.
    public var warmConnections = 0
    /// Keep-warm (after a warm-up): connections are replaced before they
    /// have been idle this long, for this long after the last lookup.
    public var connectionMaxIdleMs = Limits.defaultConnectionMaxIdleMs
    public var keepWarmMs = Limits.defaultKeepWarmMs
    /// Hedged requests: a second request for the same lookup after this long
    /// without an answer (0: never), within a budget of this many percent.
    public var hedgeAfterMs = 0
    /// hedge_after_ms = auto: the delay is the p95 of recent answers.
    public var hedgeAdaptive = false
    public var hedgeMaxPercent = Limits.defaultHedgeMaxPercent
    public var egress = Egress()

    public init() {}

    /// Every key `set` accepts, besides `rename.<key>`.
    public static let keys = [
        "region", "base_url", "account_id", "project_id", "api_key", "api_key_file",
        "timeout_ms", "connect_timeout_ms", "ca_file", "user_agent", "max_response_bytes",
        "header_prefix", "variable_prefix", "include", "exclude",
        "max_value_bytes", "max_entries", "max_depth", "max_header_block_bytes",
        "retries", "breaker_failures", "breaker_cooldown_ms", "max_in_flight", "cache_ttl_ms", "cache_max_entries",
        "max_connections", "dni_api_key", "dni_api_key_file",
        "proxy", "proxy_auth_file", "interface", "ip_version", "resolve", "warm_connections",
        "connection_max_idle_ms", "keep_warm_ms", "hedge_after_ms", "hedge_max_percent",
    ]
    static let renamePrefix = "rename."

    /// Every secret this configuration holds, for messages to be redacted
    /// with. (Keys added later, such as proxy credentials, join the list.)
    public var redactor: SecretRedactor {
        var secrets = [apiKey, dniAPIKey].compactMap { $0.map { ($0.secret, SecretRedactor.apiKeyPlaceholder) } }
        if let credentials = egress.proxyCredentials { secrets += Self.proxyCredentialSecrets(credentials) }
        return SecretRedactor(secrets)
    }

    /// "user:password" and, a proxy may echo only that, the password alone
    /// (not a short one, which would blank ordinary words).
    static func proxyCredentialSecrets(_ credentials: String) -> [(secret: String, placeholder: String)] {
        var secrets = [(credentials, "<proxy credentials>")]
        if let colon = credentials.firstIndex(of: ":"), credentials[credentials.index(after: colon)...].utf8.count >= 6 {
            secrets.append((String(credentials[credentials.index(after: colon)...]), "<proxy credentials>"))
        }
        return secrets
    }

    /// Sets one key. On error `self` is unchanged, and the message holds no
    /// secret of `self` (a key pasted into the wrong setting is quoted back).
    public mutating func set(_ key: String, _ value: String) throws(ConfigError) {
        do {
            try assign(key, value)
        } catch {
            throw ConfigError(redactor.redact(error.message))
        }
    }

    private mutating func assign(_ key: String, _ value: String) throws(ConfigError) {
        switch key {
        case "region":
            guard let region = Region(rawValue: value) else {
                throw .invalid(key, "unknown region \(TextRules.quoted(value)) (us-1, uk-1 or euw-1)")
            }
            self.region = region
        case "base_url": baseURL = try BaseURL(value)
        case "account_id": accountID = try Self.identifier(key, value)
        case "project_id": projectID = try Self.identifier(key, value)
        case "api_key": apiKey = try APIKey(value)
        case "api_key_file": apiKey = try APIKey(file: value)
        case "dni_api_key": dniAPIKey = try APIKey(value, key: key)
        case "dni_api_key_file": dniAPIKey = try APIKey(file: value, key: key)
        case "timeout_ms": timeoutMs = try Self.integer(key, value, in: Limits.timeoutRange)
        case "connect_timeout_ms": connectTimeoutMs = try Self.integer(key, value, in: Limits.timeoutRange)
        case "ca_file": caFile = try Self.readableFile(key, value)
        case "user_agent":
            guard !TextRules.hasControl(value), value.utf8.count <= Limits.maxNameBytes else {
                throw .invalid(key, "must be at most \(Limits.maxNameBytes) bytes without control characters")
            }
            userAgent = value
        case "max_response_bytes": maxResponseBytes = try Self.integer(key, value, in: Limits.responseBytesRange)
        case "header_prefix": render.headerPrefix = try Self.headerPrefix(value)
        case "variable_prefix": render.variablePrefix = try Self.variablePrefix(value)
        case "include": render.include = try Self.patterns(key, value)
        case "exclude": render.exclude = try Self.patterns(key, value)
        case "max_value_bytes": render.maxValueBytes = try Self.integer(key, value, in: Limits.valueBytesRange)
        case "max_entries": render.maxEntries = try Self.integer(key, value, in: Limits.entriesRange)
        case "max_depth": render.maxDepth = try Self.integer(key, value, in: Limits.depthRange)
        case "max_header_block_bytes":
            render.maxHeaderBlockBytes = try Self.integer(key, value, in: Limits.headerBlockBytesRange)
        case "retries": retries = try Self.integer(key, value, in: Limits.retriesRange)
        case "breaker_failures": breakerFailures = try Self.integer(key, value, in: Limits.breakerFailuresRange)
        case "breaker_cooldown_ms": breakerCooldownMs = try Self.integer(key, value, in: Limits.breakerCooldownRange)
        case "max_in_flight": maxInFlight = try Self.integer(key, value, in: Limits.inFlightRange)
        case "cache_ttl_ms": cacheTTLMs = try Self.integer(key, value, in: Limits.cacheTTLRange)
        case "cache_max_entries": cacheMaxEntries = try Self.integer(key, value, in: Limits.cacheEntriesRange)
        case "proxy": egress.proxy = try Egress.proxy(value)
        case "proxy_auth_file":
            egress.proxyCredentials = try Egress.credentials(file: value)
            egress.proxyCredentialsFile = value
        case "interface": egress.interface = try Egress.interface(value)
        case "ip_version": egress.ipVersion = try Egress.ipVersion(value)
        case "resolve": egress.resolve = try Egress.resolve(value)
        case "max_connections": maxConnections = try Self.integer(key, value, in: Limits.connectionsRange)
        case "warm_connections": warmConnections = try Self.integer(key, value, in: Limits.warmConnectionsRange)
        case "connection_max_idle_ms": connectionMaxIdleMs = try Self.integer(key, value, in: Limits.connectionMaxIdleRange)
        case "keep_warm_ms": keepWarmMs = try Self.integer(key, value, in: Limits.keepWarmRange)
        case "hedge_after_ms":
            if TextRules.trimmed(value) == "auto" {
                (hedgeAfterMs, hedgeAdaptive) = (0, true)
            } else {
                do {
                    (hedgeAfterMs, hedgeAdaptive) = (try Self.integer(key, value, in: Limits.hedgeAfterRange), false)
                } catch {
                    throw .invalid(key, "must be auto or a whole number from \(Limits.hedgeAfterRange.lowerBound) to \(Limits.hedgeAfterRange.upperBound) (got \(TextRules.quoted(value)))")
                }
            }
        case "hedge_max_percent": hedgeMaxPercent = try Self.integer(key, value, in: Limits.hedgePercentRange)
        default:
            let prefix = Self.renamePrefix.utf8
            guard key.utf8.starts(with: prefix), key.utf8.count > prefix.count else {
                throw ConfigError("unknown configuration key \(TextRules.quoted(key))")
            }
            let name = TextRules.trimmed(value)
            guard !name.isEmpty, name.utf8.count <= Limits.maxPrefixBytes, !TextRules.hasControl(name) else {
                throw .invalid(key, "must be a name of 1 to \(Limits.maxPrefixBytes) bytes")
            }
            render.renames[String(decoding: key.utf8.dropFirst(prefix.count), as: UTF8.self)] = name
        }
    }

    /// Applies several settings at once: all of them, or none on the first
    /// error, whose message holds no secret of `self`, of the settings
    /// applied before it, nor of those after it (the environment comes in
    /// no particular order).
    public mutating func apply(_ settings: [(key: String, value: String, origin: String)]) throws(ConfigError) {
        var copy = self
        for setting in settings {
            do {
                try copy.assign(setting.key, setting.value)
            } catch {
                let given = SecretRedactor(settings.filter { $0.key == "api_key" || $0.key == "dni_api_key" }.map { ($0.value, SecretRedactor.apiKeyPlaceholder) })
                throw ConfigError(redactor.adding(copy.redactor).adding(given).redact("\(setting.origin): \(error.message)"))
            }
        }
        self = copy
    }

    /// The base URL lookups go to.
    public var effectiveBaseURL: BaseURL {
        if let baseURL { return baseURL }
        // Region URLs are https literals, so this cannot fail; fall back to the
        // raw text rather than trap if it ever did.
        return (try? BaseURL(region.baseURL)) ?? BaseURL(validatedText: region.baseURL)
    }

    // MARK: value parsers

    static func integer(_ key: String, _ value: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let number = Int(TextRules.trimmed(value)), range.contains(number) else {
            throw .invalid(key, "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \(TextRules.quoted(value)))")
        }
        return number
    }

    static func identifier(_ key: String, _ value: String) throws(ConfigError) -> String {
        guard !value.isEmpty, value.utf8.count <= Limits.maxNameBytes, !TextRules.hasControl(value) else {
            throw .invalid(key, "must be 1 to \(Limits.maxNameBytes) bytes without control characters")
        }
        return value
    }

    /// The agent writes the keys, so with any other prefix it could name a
    /// standard SIP header: "" would let a key "via" or "content-length"
    /// through, "P-" a key "asserted identity". Exact names for chosen keys
    /// are what rename.<key> is for.
    static func headerPrefix(_ value: String) throws(ConfigError) -> String {
        let bytes = Array(value.utf8)
        guard bytes.count <= Limits.maxPrefixBytes, bytes.count >= 2, bytes[0] | 0x20 == UInt8(ascii: "x"),
              bytes[1] == UInt8(ascii: "-"), bytes.allSatisfy(TextRules.isTokenByte) else {
            throw .invalid("header_prefix", "must start with \"X-\" and be at most \(Limits.maxPrefixBytes) token characters (got \(TextRules.quoted(value)))")
        }
        return value
    }

    /// Upper case like the rest of the name, and never empty: a data key
    /// must not become a host's own variable (Asterisk's EXTEN, LANGUAGE).
    static func variablePrefix(_ value: String) throws(ConfigError) -> String {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, bytes.count <= Limits.maxPrefixBytes,
              first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z"),
              bytes.allSatisfy({ TextRules.isVariableByte($0) && !($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) }) else {
            throw .invalid("variable_prefix", "must be 1 to \(Limits.maxPrefixBytes) of A-Z, 0-9 and _, starting with a letter (got \(TextRules.quoted(value)))")
        }
        return value
    }

    static func patterns(_ key: String, _ value: String) throws(ConfigError) -> [KeyPattern] {
        guard let patterns = KeyPattern.list(value) else {
            throw .invalid(key, "must be comma-separated keys, each optionally ending in * (got \(TextRules.quoted(value)))")
        }
        return patterns
    }

    /// A regular file that can be opened now; it is read later.
    static func readableFile(_ key: String, _ path: String) throws(ConfigError) -> String {
        guard !path.isEmpty, !TextRules.hasControl(path) else { throw .invalid(key, "must be a file path") }
        do {
            try FileAccess.check(path)
        } catch {
            throw .invalid(key, error.message)
        }
        return path
    }
}

extension BaseURL {
    /// Only for literals known to be valid.
    init(validatedText: String) {
        self.text = validatedText
        self.isHTTPS = validatedText.hasPrefix("https://")
    }
}
