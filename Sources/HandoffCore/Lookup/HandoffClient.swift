/// A configured client: validates ids, sends the lookup, renders the result.
/// Safe to use from many threads at once.
public final class HandoffClient: Sendable {
    public let config: HandoffConfig
    private let url: RequestURL
    private let transport: Transport
    private let renderer: Renderer

    /// Fails when a required key is missing.
    public init(config: HandoffConfig) throws(ConfigError) {
        guard let accountID = config.accountID else { throw ConfigError("account_id is not set") }
        guard let projectID = config.projectID else { throw ConfigError("project_id is not set") }
        guard let apiKey = config.apiKey else { throw ConfigError("api_key is not set (set api_key or api_key_file)") }
        let base = config.effectiveBaseURL
        self.config = config
        url = RequestURL(base: base, accountID: accountID, projectID: projectID)
        renderer = Renderer(options: config.render)
        transport = Transport(settings: TransportSettings(
            headers: ["x-api-key: \(apiKey.secret)", "Accept: application/json", "User-Agent: \(config.userAgent)"],
            connectTimeoutMs: config.connectTimeoutMs,
            caFile: config.caFile,
            maxResponseBytes: config.maxResponseBytes,
            allowsPlainHTTP: !base.isHTTPS))
    }

    /// Looks up raw caller bytes. `timeoutMs` <= 0 or nil: the configured timeout.
    public func lookup(_ id: [UInt8], as kind: LookupTarget.Kind, timeoutMs: Int? = nil) -> HandoffResult {
        switch LookupTarget.validated(id, as: kind) {
        case .failure(let error): return invalid(error.message)
        case .success(let target): return lookup(target, timeoutMs: timeoutMs)
        }
    }

    public func lookup(_ target: LookupTarget, timeoutMs: Int? = nil) -> HandoffResult {
        var timeout = config.timeoutMs
        if let timeoutMs, timeoutMs > 0 { timeout = min(timeoutMs, Limits.timeoutRange.upperBound) }
        let http = transport.get(HTTPRequest(url: url.url(for: target), timeoutMs: timeout))
        return renderer.result(ResponseDecoder.outcome(http, timeoutMs: timeout))
    }

    /// A result for a call refused before any request, rendered with this
    /// client's names.
    public func invalid(_ message: String) -> HandoffResult {
        renderer.result(.init(status: .invalidArgument, errorMessage: message))
    }
}
