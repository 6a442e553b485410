import Synchronization

/// The API keys the sandbox accepts now: the fixtures' (lookups' `api_key`,
/// reservations' own), until `POST /_sandbox/api-key?key=K` makes K the
/// only key both accept, as a real API does once a key is rotated and the
/// old one revoked. Tests of key rotation change it while clients run.
final class AcceptedKeys: Sendable {
    private let rotated = Mutex<String?>(nil)

    func rotate(to key: String) { rotated.withLock { $0 = key } }

    /// The key a request must carry, `fixture` unless rotated since.
    func accepted(_ fixture: String) -> String { rotated.withLock { $0 } ?? fixture }
}
