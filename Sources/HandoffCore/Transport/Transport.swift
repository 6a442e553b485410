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

    func get(_ request: HTTPRequest) -> HTTPOutcome {
        pool.withSlot { $0.perform(request) } ?? .failed("could not create a libcurl handle", retryable: false)
    }
}
