#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A configured client: validates ids, sends the lookup, renders the result.
/// Safe to use from many threads at once.
///
/// A lookup passes, in order: the cache, the process-wide in-flight cap, single
/// flight (one request per id at a time), the circuit breaker, then up to
/// 1 + `retries` attempts, all inside one deadline that the calling thread
/// waits on itself.
public final class HandoffClient: Sendable {
    public let config: HandoffConfig
    /// nil for a client made for reservations only.
    let url: RequestURL?
    let reservationURL: String
    private let renderer: Renderer
    let flattener: Flattener
    let runtime: PerProcess<ClientRuntime>
    /// Every message this client stores in a result or logs passes it.
    private let redactor: SecretRedactor

    /// Fails when a required key is missing.
    ///
    /// A client for DNI reservations only sets `dni_api_key` (or its file)
    /// and neither `account_id` nor `project_id`; its lookups are refused.
    public init(config: HandoffConfig) throws(ConfigError) {
        let reservationsOnly = config.accountID == nil && config.projectID == nil && config.dniAPIKey != nil
        var lookupTarget: (accountID: String, projectID: String)? = nil
        if !reservationsOnly {
            guard let accountID = config.accountID else { throw ConfigError("account_id is not set") }
            guard let projectID = config.projectID else { throw ConfigError("project_id is not set") }
            guard config.apiKey != nil else { throw ConfigError("api_key is not set (set api_key or api_key_file)") }
            lookupTarget = (accountID, projectID)
        }
        // Reservations use their own key when there is one.
        guard let dniKey = config.dniAPIKey ?? config.apiKey else { throw ConfigError("dni_api_key is not set") }
        let base = config.effectiveBaseURL
        let redactor = config.redactor
        let trustStore: TrustStore?
        do {
            trustStore = base.isHTTPS ? try TrustStore.forCAFile(config.caFile) : nil
        } catch {
            throw ConfigError(redactor.redact(error.message))
        }
        self.config = config
        self.redactor = redactor
        url = lookupTarget.map { RequestURL(base: base, accountID: $0.accountID, projectID: $0.projectID) }
        reservationURL = RequestURL.reservation(base: base)
        renderer = Renderer(options: config.render)
        flattener = Flattener(options: config.render)
        let lines = Self.headerLines(lookupKey: config.apiKey?.secret, dniKey: dniKey.secret, userAgent: config.userAgent)
        let settings = TransportSettings(
            headers: lines.lookup,
            postHeaders: lines.reservation,
            connectTimeoutMs: config.connectTimeoutMs,
            caFile: config.caFile,
            trustStore: trustStore,
            maxResponseBytes: config.maxResponseBytes,
            allowsPlainHTTP: !base.isHTTPS,
            maxConnections: config.maxConnections,
            connectionMaxIdleMs: config.connectionMaxIdleMs,
            // A plain-HTTP request never goes through a proxy: it would see the key.
            proxy: base.isHTTPS ? config.egress.effectiveProxy(environment: Self.environment()) : nil,
            proxyCredentials: config.egress.proxyCredentials,
            interface: config.egress.interface,
            ipVersion: config.egress.ipVersion,
            resolve: config.egress.resolve)
        runtime = PerProcess { ClientRuntime(config: config, transport: settings) }
        _ = PathWarmUp.done
        PathWarmUp.warmUpQueue(self)
    }

    /// The header lines of lookups and of reservations for these keys.
    static func headerLines(lookupKey: String?, dniKey: String, userAgent: String) -> (lookup: [String], reservation: [String]) {
        ((lookupKey.map { ["x-api-key: \($0)"] } ?? []) + ["Accept: application/json", "User-Agent: \(userAgent)"],
         // "Expect:" off: no 100-continue round trip before a small body.
         ["x-api-key: \(dniKey)", "Content-Type: application/json", "Accept: application/json", "User-Agent: \(userAgent)", "Expect:"])
    }

    /// Checks the secret files (the keys' and proxy_auth_file; at most once
    /// a second; `force`: now, after a 401, 403 or a proxy's 407) and puts
    /// rotated secrets on every transfer from its next request on. True when
    /// one changed. Its log lines go to `queue` for a queued lookup (this may
    /// run on the I/O thread).
    @discardableResult
    func refreshKeys(_ live: ClientRuntime, force: Bool = false, logTo queue: LookupQueue? = nil) -> Bool {
        let log: (LogLevel, String) -> Void = { level, text in self.log(level, text, to: queue) }
        var changed = live.lookupKey?.refresh(force: force, log: log) ?? false
        if live.dniKey !== live.lookupKey { changed = live.dniKey.refresh(force: force, log: log) || changed }
        if let proxyAuth = live.proxyAuth { changed = proxyAuth.refresh(force: force, log: log) || changed }
        guard changed else { return false }
        // Read and installed under one lock: two threads that each saw one
        // file change must not install in the wrong order, leaving a stale
        // secret on every transfer that no later check would notice.
        live.rotatedSecrets.withLock { seen in
            let lookupSecret = live.lookupKey?.secret, dniSecret = live.dniKey.secret
            let proxyCredentials = live.proxyAuth?.secret
            var secrets = [lookupSecret, dniSecret].compactMap { $0.map { ($0, SecretRedactor.apiKeyPlaceholder) } }
            if let proxyCredentials { secrets += HandoffConfig.proxyCredentialSecrets(proxyCredentials) }
            seen = (seen ?? redactor).adding(SecretRedactor(secrets))
            let lines = Self.headerLines(lookupKey: lookupSecret, dniKey: dniSecret, userAgent: config.userAgent)
            live.transport.replaceHeaders(lookup: lines.lookup, reservation: lines.reservation, proxyCredentials: proxyCredentials)
        }
        return true
    }

    /// After a refusal a rotated secret may cure: reads the files at once,
    /// and tells whether the secrets on transfers are now newer than those
    /// of the refused request (`sentWith`, `Transport.secretsVersion` when
    /// it went out). Also true when another request's refusal installed
    /// them first: every refused request gets its one more attempt.
    func secretsRotated(since sentWith: Int, _ live: ClientRuntime, logTo queue: LookupQueue? = nil) -> Bool {
        refreshKeys(live, force: true, logTo: queue)
        return live.transport.secretsVersion != sentWith
    }

    /// The configured secrets, and every key a rotation brought.
    func redact(_ message: String) -> String {
        let rotated = runtime.withValue { $0.rotatedSecrets.withLock { $0 } }
        return (rotated ?? redactor).redact(message)
    }

    /// Looks up raw caller bytes. `timeoutMs` <= 0 or nil: the configured
    /// timeout; above `Limits.timeoutRange` it is refused, like the setting.
    public func lookup(_ id: [UInt8], as kind: LookupTarget.Kind, timeoutMs: Int? = nil) -> HandoffResult {
        switch LookupTarget.validated(id, as: kind) {
        case .failure(let error):
            return refused(error.message)
        case .success(let target):
            return lookup(target, timeoutMs: timeoutMs)
        }
    }

    public func lookup(_ target: LookupTarget, timeoutMs: Int? = nil) -> HandoffResult {
        let started = ContinuousClock.now
        guard url != nil else { return refused(Self.noLookupsRefusal) }
        guard let timeout = effectiveTimeout(timeoutMs) else { return refused(Self.timeoutRefusal(timeoutMs)) }
        let deadline = Deadline(milliseconds: timeout)
        var tally = Tally()
        let result = runtime.withValue { live in
            live.keepWarm.noteUse(queued: false)
            var result = resolve(target, live, deadline: deadline, timeoutMs: timeout, tally: &tally)
            result.elapsedUs = Self.microseconds(since: started)
            // One record per lookup: the stats lock is taken once.
            live.stats.recordLookup(result.status, elapsedUs: result.elapsedUs, requests: tally.requests,
                                    cacheHit: tally.source == .cache, shared: tally.source == .shared)
            return result
        }
        if result.status != .ok {
            log(.warning, "lookup \(target.logDescription): \(result.status.nameString) \(result.errorMessage) (\(result.elapsedUs / 1000) ms)")
        } else {
            log(.debug, "lookup \(target.logDescription): ok, \(result.flat.count) entries (\(result.elapsedUs / 1000) ms)")
        }
        return result
    }

    /// A result for a call refused before any request, rendered with this
    /// client's names.
    public func invalid(_ message: String) -> HandoffResult {
        finish(.init(status: .invalidArgument, errorMessage: message))
    }

    /// A lookup refused before it started: logged (to `queue` for a queued
    /// one) and counted like one.
    func refused(_ message: String, logTo queue: LookupQueue? = nil) -> HandoffResult {
        log(.warning, "lookup refused: \(message)", to: queue)
        runtime.value.stats.recordLookup(.invalidArgument, elapsedUs: 0)
        return invalid(message)
    }

    /// A lookup's timeout: the configured one for nil or <= 0, nil above the
    /// range (refused, like the setting).
    func effectiveTimeout(_ timeoutMs: Int?) -> Int? {
        guard let timeoutMs, timeoutMs > 0 else { return config.timeoutMs }
        return timeoutMs <= Limits.timeoutRange.upperBound ? timeoutMs : nil
    }

    /// The proxy variables of `proxy = env`, read when a client is made.
    static func environment() -> [String: String] {
        var found: [String: String] = [:]
        for name in ["https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"] {
            if let value = getenv(name) { found[name] = String(cString: value) }
        }
        return found
    }

    static let noLookupsRefusal = "this client is for DNI reservations only (account_id and project_id are not set)"

    static func timeoutRefusal(_ timeoutMs: Int?) -> String {
        "timeout_ms must be at most \(Limits.timeoutRange.upperBound) (got \(timeoutMs ?? 0); 0 means the configured timeout_ms)"
    }

    public func statistics() -> StatsSnapshot {
        let live = runtime.value
        return live.stats.snapshot(breakerOpen: live.breaker.isOpen, connections: live.transport.connections)
    }

    /// Closes this process's circuit breaker by hand.
    public func resetBreaker() {
        guard runtime.value.breaker.reset() else { return }
        log(.info, "circuit breaker closed by hand (handoff_client_breaker_reset)")
    }

    // MARK: the stages

    /// Where a lookup's answer came from, and how many requests it sent.
    private struct Tally {
        enum Source { case request, cache, shared }
        var source = Source.request
        var requests = 0
    }

    private func resolve(_ target: LookupTarget, _ live: ClientRuntime, deadline: Deadline, timeoutMs: Int, tally: inout Tally) -> HandoffResult {
        let flights = live.flights
        if let cached = live.cache?.get(target) {
            tally.source = .cache
            return cached
        }
        guard InFlightLimit.enter(limit: config.maxInFlight) else {
            live.stats.recordRejectedInFlight()
            return inFlightRefusal()
        }
        // A child that a fork inside the log callback carried here never
        // took this place: its count started at 0.
        let generation = ForkGeneration.current
        defer { if ForkGeneration.current == generation { InFlightLimit.leave() } }
        for _ in 0..<Limits.maxFlightJoins {
            switch flights.join(target) {
            case .follower(let flight):
                tally.source = .shared
                guard let shared = flights.wait(flight, remainingMs: deadline.remainingMs) else { break }
                // The leader ran out of its own, shorter deadline; this lookup
                // still has time to ask for itself.
                if shared.status == .timeout && deadline.remainingMs >= Limits.minRetryAttemptMs { continue }
                return shared
            case .leader(let flight):
                tally.source = .request
                let result = lead(target, live, deadline: deadline, timeoutMs: timeoutMs, requests: &tally.requests)
                flights.finish(flight, result)
                return result
            }
        }
        return finish(.init(status: .timeout, errorMessage: "no complete answer within \(timeoutMs) ms"))
    }

    private func lead(_ target: LookupTarget, _ live: ClientRuntime, deadline: Deadline, timeoutMs: Int, requests: inout Int) -> HandoffResult {
        let breaker = live.breaker
        let permit = breaker.permit()
        guard permit != .rejected else { return breakerRefusal() }
        let outcome = attempts(target, live, deadline: deadline, timeoutMs: timeoutMs, requests: &requests)
        return concluded(target, outcome, permit: permit, live, logTo: nil)
    }

    /// What a leader does with its last attempt's outcome: tells the
    /// breaker, renders the result and caches it if it is a success.
    func concluded(_ target: LookupTarget, _ outcome: Renderer.Outcome, permit: CircuitBreaker.Permit,
                   _ live: ClientRuntime, logTo queue: LookupQueue?) -> HandoffResult {
        switch live.breaker.record(permit, failed: outcome.status.isAPIFailure) {
        case .opened?:
            live.stats.recordBreakerOpened()
            log(.error, "circuit breaker opened after \(config.breakerFailures) consecutive failures (last: \(outcome.status.nameString)); failing fast for \(config.breakerCooldownMs) ms", to: queue)
        case .reopened?:
            live.stats.recordBreakerOpened()
            log(.warning, "circuit breaker probe failed (\(outcome.status.nameString)); open for another \(config.breakerCooldownMs) ms", to: queue)
        case .closed?:
            log(.info, "circuit breaker closed: the API answered", to: queue)
        case nil:
            break
        }
        let result = finish(outcome)
        if result.status == .ok { live.cache?.put(target, result) }
        return result
    }

    func breakerRefusal() -> HandoffResult {
        unavailable("the API has been failing; circuit breaker open (breaker_failures \(config.breakerFailures), cooldown \(config.breakerCooldownMs) ms)")
    }

    func inFlightRefusal() -> HandoffResult {
        unavailable("\(config.maxInFlight) lookups already in flight (max_in_flight)")
    }

    /// 1 + `retries` attempts: only after a connection failure or 502/503/504,
    /// with jittered exponential backoff, and only while the deadline leaves
    /// room for another attempt.
    ///
    /// A 401 or 403 makes the client read its key file at once: when the
    /// key was rotated, one more attempt with the new key follows (within
    /// the deadline, not counted as a retry).
    private func attempts(_ target: LookupTarget, _ live: ClientRuntime, deadline: Deadline, timeoutMs: Int, requests: inout Int) -> Renderer.Outcome {
        guard let address = url?.url(for: target) else { return .init(status: .invalidArgument, errorMessage: Self.noLookupsRefusal) }
        var attempt = 0
        var reloadedKey = false
        refreshKeys(live)
        let hedge = hedging(live)
        while true {
            let remaining = deadline.remainingMs
            guard remaining > 0 else {
                return .init(status: .timeout, errorMessage: "no complete answer within \(timeoutMs) ms")
            }
            let sentWith = live.transport.secretsVersion
            let sentAt = ContinuousClock.now
            let http = live.transport.get(HTTPRequest(url: address, timeoutMs: remaining, hedge: hedge))
            requests += 1
            live.latencies.map { Self.recordLatency(http, since: sentAt, in: $0) }
            // Redacted here already: the retry line below logs it.
            var outcome = ResponseDecoder.outcome(http, timeoutMs: timeoutMs, flattener: flattener)
            outcome.errorMessage = redacted(outcome.errorMessage)
            if Self.isSecretRefusal(outcome.status, http), !reloadedKey {
                reloadedKey = true
                if secretsRotated(since: sentWith, live), deadline.remainingMs >= Limits.minRetryAttemptMs { continue }
            }
            guard attempt < config.retries, http.isRetryable else { return outcome }
            let backoff = Self.backoffMs(attempt: attempt)
            guard deadline.remainingMs >= backoff + Limits.minRetryAttemptMs else { return outcome }
            log(.info, "lookup \(target.logDescription): \(outcome.status.nameString) (\(outcome.errorMessage)); retrying in \(backoff) ms")
            Self.sleep(milliseconds: backoff)
            attempt += 1
        }
    }

    /// hedge_after_ms > 0: this lookup earns its share of the budget, and
    /// its request may be raced by a second one, never while the breaker
    /// counts failures (a struggling API gets no extra load). Synchronous
    /// and queued lookups alike.
    /// With hedge_after_ms = auto the delay is the recent answers' p95, and
    /// there is no hedge until enough answers came.
    func hedging(_ live: ClientRuntime) -> Hedge? {
        let afterMs: Int
        if let latencies = live.latencies {
            live.hedgeBudget.earn()
            guard let delay = latencies.delayMs else { return nil }
            afterMs = delay
        } else {
            guard config.hedgeAfterMs > 0 else { return nil }
            live.hedgeBudget.earn()
            afterMs = config.hedgeAfterMs
        }
        let (budget, breaker, stats) = (live.hedgeBudget, live.breaker, live.stats)
        return Hedge(afterMs: afterMs, mayStart: { !breaker.isCountingFailures && budget.spend() },
                     sent: { stats.recordHedge() }, won: { stats.recordHedgeWon() }, unspent: { budget.refund() })
    }

    /// An answer's time, for hedge_after_ms = auto (failures say nothing
    /// of the API's tail).
    static func recordLatency(_ http: HTTPOutcome, since sentAt: ContinuousClock.Instant, in latencies: LatencyWindow) {
        guard case .response = http else { return }
        latencies.record(ms: Int(microseconds(since: sentAt) / 1000))
    }

    /// A refusal that a rotated secret may cure: the API's 401 or 403, or
    /// the proxy's 407 (Proxy Authentication Required), or 401, which some
    /// proxies (tinyproxy) answer to credentials they do not accept.
    static func isSecretRefusal(_ status: HandoffStatus, _ http: HTTPOutcome) -> Bool {
        if case .proxyRefused(_, let code) = http { return code == 407 || code == 401 }
        return status == .unauthorized || status == .forbidden
    }

    func unavailable(_ message: String) -> HandoffResult {
        finish(.init(status: .unavailable, errorMessage: message))
    }

    // MARK: secrets

    /// Every result this client makes: its message redacted, then rendered.
    func finish(_ outcome: Renderer.Outcome) -> HandoffResult {
        var outcome = outcome
        outcome.errorMessage = redacted(outcome.errorMessage)
        return renderer.result(outcome)
    }

    /// Redacted before the renderer cuts the message to its bound (a cut
    /// secret would leak its start), and again once control characters
    /// became spaces, in case that completed a key that holds a space.
    func redacted(_ message: String) -> String {
        let first = redact(message)
        let safe = SafeText.make(first, maxBytes: Int.max).text
        return safe == first ? first : redact(safe)
    }

    /// Every line this client logs; built only when the level is enabled.
    /// A queued lookup's lines wait in its queue, for a host thread to pass
    /// them to the log callback.
    func log(_ level: LogLevel, _ message: @autoclosure () -> String, to queue: LookupQueue? = nil) {
        guard let queue else {
            guard Log.isEnabled(level) else { return }
            return Log.write(level, redact(message()))
        }
        guard Log.isEnabled(level) else { return }
        queue.keepLog(level, redact(message()))
    }

    /// base * 2^attempt, scaled by a random factor in [0.5, 1.5).
    static func backoffMs(attempt: Int) -> Int {
        let base = Limits.retryBackoffBaseMs << min(attempt, 8)
        return base / 2 + Int.random(in: 0..<max(base, 1))
    }

    static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    static func microseconds(since start: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return seconds &* 1_000_000 &+ attoseconds / 1_000_000_000_000
    }
}
