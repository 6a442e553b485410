import HandoffCore
import Synchronization

/// A handoff_config: the configuration value being edited plus the message of
/// the last failed call, which C borrows until the next call.
final class ConfigHandle: Sendable {
    private struct State {
        var config = HandoffConfig()
        var error = OwnedCString("")
    }

    private let state = Mutex(State())

    var config: HandoffConfig { state.withLock { $0.config } }

    var errorPointer: UnsafePointer<CChar> { state.withLock { UnsafePointer($0.error.pointer) } }

    /// Applies `change` to a copy and keeps it only if it succeeds.
    func update(_ change: (inout HandoffConfig) throws(ConfigError) -> Void) -> HandoffStatus {
        state.withLock { state in
            var copy = state.config
            do throws(ConfigError) {
                try change(&copy)
                state.config = copy
                state.error = OwnedCString("")
                return .ok
            } catch {
                state.error = OwnedCString(error.message)
                return .invalidArgument
            }
        }
    }

    func recordError(_ message: String) {
        state.withLock { $0.error = OwnedCString(message) }
    }
}
