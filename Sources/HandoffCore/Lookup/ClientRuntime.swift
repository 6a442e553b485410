import Synchronization

/// Everything of a client that changes as it works: connections, breaker,
/// single-flight table, cache and counters. A client holds it per process
/// (`PerProcess`), so a forked worker starts with its own, empty, and never
/// touches the parent's.
final class ClientRuntime: Sendable {
    let transport: Transport
    let breaker: CircuitBreaker
    let cache: ResultCache?
    let flights = SingleFlight()
    let stats = ClientStats()
    /// The I/O thread of queued lookups; it starts with the first one.
    let loop: CurlLoop
    /// The keys, watched for rotation when they came from files; the DNI
    /// key is the lookup key's object when there is no dni_api_key.
    let lookupKey: RotatingKey?
    let dniKey: RotatingKey
    /// proxy_auth_file's credentials, watched the same way (nil without one,
    /// or without a proxy to use them with).
    let proxyAuth: RotatingKey?
    /// Every key seen since a rotation, for redaction (nil until one).
    let rotatedSecrets = Locked<SecretRedactor?>(nil)
    /// Armed by a warm-up.
    let keepWarm: KeepWarm
    /// A queue was made on the client in this process: warm-ups warm the
    /// I/O thread's connection too.
    let queued = Atomic<Bool>(false)
    /// What hedged requests may still spend (hedge_max_percent).
    let hedgeBudget: HedgeBudget
    /// hedge_after_ms = auto: recent answers' latencies (nil otherwise).
    let latencies: LatencyWindow?

    init(config: HandoffConfig, transport settings: TransportSettings) {
        var settings = settings
        if settings.trustStore != nil, settings.trustStoreGeneration != ForkGeneration.current {
            // A child parses the CA file again rather than share the parent's
            // store and its lock; if that fails now, libcurl reads the file.
            settings.trustStore = try? TrustStore.forCAFile(settings.caFile)
            settings.trustStoreGeneration = ForkGeneration.current
        }
        transport = Transport(settings: settings)
        loop = transport.makeLoop()
        let lookupKey = config.apiKey.map { RotatingKey($0, setting: "api_key_file") }
        self.lookupKey = lookupKey
        // The client checked that one of the two exists.
        dniKey = config.dniAPIKey.map { RotatingKey($0, setting: "dni_api_key_file") } ?? lookupKey
            ?? RotatingKey(APIKey.placeholder, setting: "dni_api_key")
        proxyAuth = settings.proxy == nil ? nil : config.egress.proxyCredentials.map {
            RotatingKey(secret: $0, file: config.egress.proxyCredentialsFile, setting: "proxy_auth_file",
                        holds: "user:password", parse: Egress.parseCredentials(fileBytes:))
        }
        breaker = CircuitBreaker(threshold: config.breakerFailures, cooldownMs: config.breakerCooldownMs)
        cache = config.cacheTTLMs > 0 ? ResultCache(ttlMs: config.cacheTTLMs, capacity: config.cacheMaxEntries) : nil
        let url = config.accountID.flatMap { account in
            config.projectID.map { RequestURL(base: config.effectiveBaseURL, accountID: account, projectID: $0).url(for: .sharedID("warm-up")) }
        }
        keepWarm = KeepWarm(transport: transport, loop: loop, url: url, config: config)
        hedgeBudget = HedgeBudget(maxPercent: config.hedgeMaxPercent)
        latencies = config.hedgeAdaptive ? LatencyWindow() : nil
    }

    /// Only in the process that made it (a parent's runtime is abandoned in
    /// a child, never freed there), so the thread joined is this process's.
    deinit {
        keepWarm.stop()
        loop.stop()
    }
}
