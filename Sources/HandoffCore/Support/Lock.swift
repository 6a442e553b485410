#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A plain pthread mutex for the lookup path. Swift's `Mutex` uses
/// priority-inheritance futexes on Linux, which enter the kernel on every
/// contended acquire; with 16 threads doing lookups that was 18% of all CPU.
/// An adaptive mutex spins briefly first, which suits these tiny sections.
final class Lock: @unchecked Sendable {
    // @unchecked: the mutex is what makes it safe.
    fileprivate let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        Self.initAdaptive(mutex)
    }

    /// An adaptive mutex spins briefly before it sleeps in the kernel.
    static func initAdaptive(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A value and its pthread mutex in one allocation (a ManagedBuffer: the
/// value is the header, the mutex the single element, at a stable address).
/// Results create one each, so the allocation count matters.
package final class Locked<Value>: @unchecked Sendable {
    // @unchecked: the value is only touched with the mutex held.
    private let storage: ManagedBuffer<Value, pthread_mutex_t>

    package init(_ value: Value) {
        storage = .create(minimumCapacity: 1) { _ in value }
        storage.withUnsafeMutablePointerToElements { mutex in
            mutex.initialize(to: pthread_mutex_t())
            Lock.initAdaptive(mutex)
        }
    }

    deinit {
        storage.withUnsafeMutablePointerToElements { mutex in
            pthread_mutex_destroy(mutex)
            _ = mutex.deinitialize(count: 1)
        }
    }

    @inline(__always)
    package func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        let outcome: Result<T, E> = storage.withUnsafeMutablePointers { value, mutex in
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            do throws(E) {
                return .success(try body(&value.pointee))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}

extension Locked: ForkGuardedLock {
    package func lockForFork() {
        storage.withUnsafeMutablePointerToElements { _ = pthread_mutex_lock($0) }
    }

    package func unlockAfterFork() {
        storage.withUnsafeMutablePointerToElements { _ = pthread_mutex_unlock($0) }
    }
}

/// A condition variable on the monotonic clock, used with a `Lock`.
final class Condition: @unchecked Sendable {
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits (with `lock` held, as inside `lock.withLock`) until woken or
    /// until `deadline`; false once the deadline has passed.
    func wait(_ lock: Lock, until deadline: timespec) -> Bool {
        var until = deadline
        return pthread_cond_timedwait(condition, lock.mutex, &until) != ETIMEDOUT
    }

    /// The monotonic time `milliseconds` from now.
    static func deadline(inMilliseconds milliseconds: Int) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nanoseconds = Int(now.tv_nsec) + (milliseconds % 1000) * 1_000_000
        now.tv_sec += milliseconds / 1000 + nanoseconds / 1_000_000_000
        now.tv_nsec = nanoseconds % 1_000_000_000
        return now
    }
}
