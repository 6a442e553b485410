/// Sends handoff_state GETs over kept-alive connections.
final class Transport: Sendable {
    private let pool: ConnectionPool

    init(settings: TransportSettings) {
        pool = ConnectionPool(settings: settings)
    }

    func makeLoop() -> CurlLoop { pool.makeLoop() }

    /// After a key rotation (the queued lookups' loop shares the lists).
    func replaceHeaders(lookup: [String], reservation: [String], proxyCredentials: String?) {
        pool.replaceHeaders(lookup: lookup, reservation: reservation, proxyCredentials: proxyCredentials)
    }

    var connections: ConnectionCounts { pool.connections }

    /// Bumped each time rotated secrets are installed: a request compares
    /// it, after a refusal, with the value it went out with.
    var secretsVersion: Int { pool.secretsVersion }

    /// Connections made ahead of lookups, sending nothing (see ConnectionPool.warm).
    func warm(_ request: HTTPRequest, count: Int) -> [(outcome: WarmOutcome, kept: Bool)] {
        pool.warm(request, count: count)
    }

    /// Whether keep-warm has anything to do (see ConnectionPool.hasIdle).
    func hasIdle(count: Int, idleFor: Duration, orDropAfter dropAfter: Duration) -> Bool {
        pool.hasIdle(count: count, idleFor: idleFor, orDropAfter: dropAfter)
    }

    /// Keep-warm's replacement of idle connections (see ConnectionPool.refresh).
    func refresh(_ request: HTTPRequest, count: Int, replaceAfter: Duration, dropAfter: Duration) -> Int {
        pool.refresh(request, count: count, replaceAfter: replaceAfter, dropAfter: dropAfter)
    }

    func get(_ request: HTTPRequest) -> HTTPOutcome {
        pool.withSlot { $0.perform(request) } ?? .failed("could not create a libcurl handle", retryable: false)
    }
}
