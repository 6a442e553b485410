/// What the transport needs to know about one GET, and what came back.
struct HTTPRequest: Sendable {
    let url: String
    let timeoutMs: Int
}

enum HTTPOutcome: Sendable {
    case response(status: Int, body: [UInt8])
    case timedOut
    case bodyTooLarge(limit: Int)
    case failed(String)
}

/// The fixed part of every request of one client: set once, reused by every
/// transfer.
struct TransportSettings: Sendable {
    let headers: [String]
    let connectTimeoutMs: Int?
    let caFile: String?
    let maxResponseBytes: Int
    let allowsPlainHTTP: Bool
}
