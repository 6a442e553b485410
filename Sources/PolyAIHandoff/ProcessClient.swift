import HandoffCore

/// The process-wide client behind handoff_init()/handoff_lookup(). Lookups
/// take their own reference under the lock, so a reload or shutdown never
/// frees a client another thread is still using.
enum ProcessClient {
    private struct State {
        var client: HandoffClient? = nil
        var initError = OwnedCString("")
    }

    // Read on every handoff_lookup: a plain lock, not Swift's PI-futex Mutex.
    // Held around fork(), so a forked worker finds it free and the client
    // in place (it is the client's own state that starts afresh there).
    private static let state: Locked<State> = {
        let state = Locked(State())
        ForkGuard.protect(state)
        return state
    }()

    static var current: HandoffClient? { state.withLock { $0.client } }

    static func install(_ client: HandoffClient) {
        let previous = state.withLock { state -> HandoffClient? in
            defer {
                state.client = client
                state.initError = OwnedCString("")
            }
            return state.client
        }
        _ = previous  // released here, outside the lock
    }

    static func failInit(_ message: String) {
        state.withLock { $0.initError = OwnedCString(message) }
    }

    static var initErrorPointer: UnsafePointer<CChar> {
        state.withLock { UnsafePointer($0.initError.pointer) }
    }

    static func shutdown() {
        let previous = state.withLock { state -> HandoffClient? in
            defer {
                state.client = nil
                state.initError = OwnedCString("")
            }
            return state.client
        }
        _ = previous
    }
}
