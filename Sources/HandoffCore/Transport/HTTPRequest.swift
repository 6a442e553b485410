/// What the transport needs to know about one GET, and what came back.
struct HTTPRequest: Sendable {
    let url: String
    let timeoutMs: Int
    /// A POST's JSON body (a DNI reservation); nil for a lookup's GET.
    var body: [UInt8]? = nil
    /// A warm-up: the connection is made (DNS, TCP, TLS, the proxy's
    /// tunnel, HTTP/2's settings) and the request is never sent.
    var warmOnly = false
    /// Never reuse a kept-alive connection (keep-warm's replacement on the
    /// I/O thread, which must make a new one).
    var freshConnection = false
    /// A lookup's GET that may race a second request against the first.
    var hedge: Hedge? = nil
}

/// When a second request may join the first: after `afterMs` without an
/// answer, if `mayStart` agrees (the breaker counts no failures and the
/// budget holds a hedge, which it spends). `sent` runs once the second
/// request is under way, `won` when it answered first.
struct Hedge: Sendable {
    let afterMs: Int
    let mayStart: @Sendable () -> Bool
    let sent: @Sendable () -> Void
    let won: @Sendable () -> Void
    /// `mayStart` said yes but no second request could be started: the
    /// hedge it spent goes back.
    let unspent: @Sendable () -> Void
}

enum HTTPOutcome: Sendable {
    case response(status: Int, body: [UInt8])
    case timedOut
    /// `status`: the HTTP status that came before the body, 0 if none.
    case bodyTooLarge(status: Int, limit: Int)
    /// `retryable`: the request may never have reached the server (refused,
    /// reset, nothing received), as opposed to a failure that would repeat
    /// (TLS verification, an unknown host).
    case failed(String, retryable: Bool)
    /// No connection could be made (refused, unreachable): the request
    /// certainly never left, so even a POST may be sent again.
    case notConnected(String)
    /// An answer libcurl itself refused as malformed (e.g. oversized headers).
    case malformed(String)
    /// The proxy answered the CONNECT with `code` (>= 300): the request never
    /// reached the API. A 407 (or 401) makes the client read proxy_auth_file
    /// at once.
    case proxyRefused(String, code: Int)

    /// Worth another attempt of a lookup inside the deadline: a connection
    /// failure, or a 502/503/504 from a gateway in front of the API.
    var isRetryable: Bool {
        switch self {
        case .failed(_, let retryable): retryable
        case .notConnected: true
        case .response(let status, _): status == 502 || status == 503 || status == 504
        case .timedOut, .bodyTooLarge, .malformed, .proxyRefused: false
        }
    }

    /// Worth another attempt of a reservation, which is not idempotent: only
    /// when the request certainly never reached the server.
    var isRetryableForPost: Bool {
        if case .notConnected = self { return true }
        return false
    }
}

/// How a warm-up's connection ended up.
enum WarmOutcome: Sendable {
    /// Made, up to where the request would have been sent.
    case ready
    case timedOut
    case failed(String)
}

/// The fixed part of every request of one client: set once, reused by every
/// transfer.
struct TransportSettings: Sendable {
    /// Lookups' headers (GET), and reservations' (POST).
    let headers: [String]
    var postHeaders: [String] = []
    let connectTimeoutMs: Int?
    let caFile: String?
    /// The parsed CAs every new TLS connection trusts; nil for plain HTTP or
    /// when libcurl is not built with OpenSSL (it then reads `caFile` itself).
    var trustStore: TrustStore?
    /// The fork generation `trustStore` was made in: a child makes its own.
    var trustStoreGeneration = ForkGeneration.current
    let maxResponseBytes: Int
    let allowsPlainHTTP: Bool
    /// Connections the I/O thread of queued lookups opens at once.
    var maxConnections = Limits.defaultMaxConnections
    /// connection_max_idle_ms: the I/O thread never reuses a connection
    /// idle that long (libcurl counts whole seconds: rounded up).
    var connectionMaxIdleMs = Limits.defaultConnectionMaxIdleMs
    /// The https proxy (a CONNECT tunnel) and its no_proxy list; nil: none.
    var proxy: (url: String, noProxy: String)? = nil
    var proxyCredentials: String? = nil
    var interface: String? = nil
    var ipVersion = Egress.IPVersion.any
    var resolve: [String] = []
}
