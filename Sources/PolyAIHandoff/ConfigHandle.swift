import HandoffCore
import Synchronization

/// A handoff_config: the configuration value being edited plus the message of
/// the last failed call, which C borrows until the next call.
final class ConfigHandle: Sendable {
    private struct State {
        var config = HandoffConfig()
        /// nil after a success: handoff_config_error() is then a static "",
        /// so concurrent successes (handoff_client_new on a shared config)
        /// never free a message another thread may be reading.
        var error: OwnedCString? = nil
    }

    private let state = Mutex(State())

    var config: HandoffConfig { state.withLock { $0.config } }

    var errorPointer: UnsafePointer<CChar> {
        state.withLock { $0.error.map { UnsafePointer($0.pointer) } } ?? StaticCString.pointer("")
    }

    /// Applies `change` to a copy and keeps it only if it succeeds. The
    /// change runs without the lock held: it may read a file (a slow disk,
    /// a refused FIFO) or log. Edits of one config from two threads at once
    /// are not supported (the header says so); the last one wins.
    func update(_ change: (inout HandoffConfig) throws(ConfigError) -> Void) -> HandoffStatus {
        var copy = config
        do throws(ConfigError) {
            try change(&copy)
        } catch {
            recordError(error.message)
            return .invalidArgument
        }
        let changed = copy
        state.withLock { state in
            state.config = changed
            state.error = nil
        }
        return .ok
    }

    func recordError(_ message: String) {
        let previous = state.withLock { state -> OwnedCString? in
            defer { state.error = OwnedCString(message) }
            return state.error
        }
        _ = previous  // freed here, outside the lock
    }

    /// A call that succeeded without changing the config (handoff_client_new).
    func recordSuccess() {
        let previous = state.withLock { state -> OwnedCString? in
            defer { state.error = nil }
            return state.error
        }
        _ = previous
    }
}
