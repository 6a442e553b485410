#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Concurrent lookups of the same id share one request: the first becomes the
/// leader and sends it, the others wait for its result, each no longer than
/// its own deadline.
final class SingleFlight: Sendable {
    enum Role {
        case leader(Flight)
        case follower(Flight)
    }

    private struct State {
        var pid = getpid()
        var flights: [LookupTarget: Flight] = [:]
    }

    private let state = Mutex(State())

    func join(_ target: LookupTarget) -> Role {
        let pid = getpid()
        return state.withLock { state in
            // After fork() the parent's leaders do not exist here: start afresh.
            if state.pid != pid { state = State(pid: pid) }
            if let flight = state.flights[target] { return .follower(flight) }
            let flight = Flight()
            state.flights[target] = flight
            return .leader(flight)
        }
    }

    /// The leader publishes its result and retires the flight.
    func finish(_ target: LookupTarget, _ flight: Flight, _ result: HandoffResult) {
        state.withLock { state in
            if state.flights[target] === flight { state.flights[target] = nil }
        }
        flight.complete(result)
    }
}

/// One shared request: a result slot with a condition variable on the
/// monotonic clock, so waits are bounded by real deadlines.
final class Flight: @unchecked Sendable {
    // @unchecked: `result` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var result: HandoffResult? = nil

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func complete(_ value: HandoffResult) {
        pthread_mutex_lock(mutex)
        result = value
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The leader's result, or nil if `remainingMs` ran out first.
    func wait(remainingMs: Int) -> HandoffResult? {
        var until = timespec()
        clock_gettime(CLOCK_MONOTONIC, &until)
        let total = Int(until.tv_nsec) + (remainingMs % 1000) * 1_000_000
        until.tv_sec += remainingMs / 1000 + total / 1_000_000_000
        until.tv_nsec = total % 1_000_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while result == nil {
            if pthread_cond_timedwait(condition, mutex, &until) == ETIMEDOUT { break }
        }
        return result
    }
}
