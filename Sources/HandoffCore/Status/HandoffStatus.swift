/// Why a lookup succeeded or failed. Raw values are the C enum's, which is only
/// ever appended to: never renumber a case.
public enum HandoffStatus: UInt32, Sendable, CaseIterable {
    case ok = 0
    case invalidArgument = 1
    case badRequest = 2
    case unauthorized = 3
    case forbidden = 4
    case notFound = 5
    case serverError = 6
    case timeout = 7
    case network = 8
    case `protocol` = 9
    case notInitialized = 10
    case unavailable = 11
    case cancelled = 12

    /// The stable name used in logs, in `X-PolyAI-Handoff-Status` and in
    /// `POLYAI_HANDOFF_STATUS`.
    public var name: StaticString {
        switch self {
        case .ok: "ok"
        case .invalidArgument: "invalid_argument"
        case .badRequest: "bad_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .serverError: "server_error"
        case .timeout: "timeout"
        case .network: "network"
        case .protocol: "protocol"
        case .notInitialized: "not_initialized"
        case .unavailable: "unavailable"
        case .cancelled: "cancelled"
        }
    }

    /// Outcomes that say the API is unwell, which the circuit breaker counts.
    public var isAPIFailure: Bool { self == .timeout || self == .network || self == .serverError }

    public var nameString: String { name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }
}
