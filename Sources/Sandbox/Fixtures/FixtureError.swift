/// Why a fixture file was refused. `path` names the offending field in the
/// style `handoffs[3].respond.delay_ms` so the fix is obvious.
struct FixtureError: Error, Sendable, CustomStringConvertible {
    let path: String
    let message: String

    init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
