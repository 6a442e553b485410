#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Counts the forks this process descends from: a pthread_atfork child
/// handler bumps it in every child. State tagged with an older generation
/// belongs to a parent and must not be used (see `PerProcess`). One atomic
/// load per check, where getpid() was a system call three times per lookup.
///
/// The same handlers keep fork() from finding a process-wide lock held
/// (`ForkGuard`) and reset the process-wide in-flight count: the threads
/// that were inside lookups do not exist in the child.
package enum ForkGeneration {
    private static let counter = Atomic<Int>(0)

    /// Registered once, the first time anything asks; everything that
    /// holds per-process state asks when it is made. The library is never
    /// unloaded (-z nodelete), so the handlers stay valid.
    private static let registered: Bool = {
        // Every global the handlers touch is set up first: a lazy global
        // whose swift_once another thread was running at fork() would hang
        // the child's handler (a TSan run of ForkGuardTests hung in
        // afterForkInChild, waiting on `forking`'s once).
        _ = counter.load(ordering: .relaxed)
        _ = InFlightLimit.current
        Log.warmUp()
        ForkGuard.setUpGlobals()
        return pthread_atfork(
            { ForkGuard.beforeFork() },
            { ForkGuard.afterForkInParent() },
            {
                ForkGeneration.counter.wrappingAdd(1, ordering: .relaxed)
                InFlightLimit.startAfresh()
                Log.startAfreshInChild()
                ForkGuard.afterForkInChild()
            }) == 0
    }()

    package static var current: Int {
        _ = registered
        return counter.load(ordering: .relaxed)
    }
}

/// The few process-wide locks (the process client, the CA cache): the
/// prepare handler takes them all, so no other thread is inside one at the
/// moment of fork(), and both sides release them after. Every one is a leaf
/// lock held for a few instructions, never while calling out or reading a
/// file, so taking them in turn cannot deadlock.
package enum ForkGuard {
    nonisolated(unsafe) private static var locks: [any ForkGuardedLock] = []
    nonisolated(unsafe) private static let registry: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        return mutex
    }()

    /// `lock` is taken around every fork() from now on; it lives for the
    /// life of the process (a static).
    package static func protect(_ lock: any ForkGuardedLock) {
        _ = ForkGeneration.current
        pthread_mutex_lock(registry)
        locks.append(lock)
        pthread_mutex_unlock(registry)
    }

    /// Runs `body`, a libcurl call that may reach into OpenSSL (a TLS
    /// handshake, verification, closing a TLS connection), with fork() held
    /// off until it returns. OpenSSL 3 keeps process-wide locks (its random
    /// generator, provider and decoder stores) that it does not take around
    /// fork(): a fork while another thread is inside one leaves it held in
    /// the child, whose first TLS connection then hangs for good. Calls do
    /// not wait for each other; fork waits for the calls in progress (each
    /// a non-blocking step of microseconds, never a wait on the network) and
    /// new ones wait for the fork, which goes first even while calls keep
    /// coming. Nested calls on one thread pass through. Two atomics, no lock:
    /// a lookup pays two atomic adds per step.
    package static func sheltered<T>(_ body: () -> T) -> T {
        guard ShelterDepth.current == 0 else { return body() }
        _ = ForkGeneration.current  // the handlers that wait are registered
        var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
        while true {
            // A fork waiting or in progress goes first.
            while forking.load(ordering: .sequentiallyConsistent) > 0 { nanosleep(&pause, nil) }
            sheltering.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if forking.load(ordering: .sequentiallyConsistent) == 0 { break }
            sheltering.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        ShelterDepth.set(1)
        defer {
            ShelterDepth.set(0)
            sheltering.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        return body()
    }

    /// Threads inside `sheltered`, and forks waiting for them or under
    /// way: a count, because glibc runs the prepare handlers of two threads
    /// forking at once side by side, and the first to finish must not let
    /// sheltered calls start while the second is still forking.
    private static let sheltering = Atomic<Int>(0)
    private static let forking = Atomic<Int>(0)
    /// In a child: how many threads of the parent were inside `sheltered`
    /// at the fork (always 0 when the guard works; for the tests).
    nonisolated(unsafe) package static var shelteredAtFork = 0

    /// Sets up the globals the fork handlers use (see `registered`).
    fileprivate static func setUpGlobals() {
        _ = sheltering.load(ordering: .relaxed)
        _ = forking.load(ordering: .relaxed)
        _ = ShelterDepth.current
        pthread_mutex_lock(registry)
        _ = locks.count
        pthread_mutex_unlock(registry)
        _ = shelteredAtFork
    }

    fileprivate static func beforeFork() {
        // First: a sheltered call may take one of the locks below, briefly.
        forking.wrappingAdd(1, ordering: .sequentiallyConsistent)
        var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
        while sheltering.load(ordering: .sequentiallyConsistent) > 0 { nanosleep(&pause, nil) }
        pthread_mutex_lock(registry)
        for lock in locks { lock.lockForFork() }
    }

    fileprivate static func afterForkInParent() {
        for lock in locks.reversed() { lock.unlockAfterFork() }
        pthread_mutex_unlock(registry)
        forking.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    fileprivate static func afterForkInChild() {
        // The thread that forked took them, and is the one thread here.
        for lock in locks.reversed() { lock.unlockAfterFork() }
        pthread_mutex_unlock(registry)
        // The one thread here forked; the others' forks are the parent's.
        shelteredAtFork = sheltering.load(ordering: .sequentiallyConsistent)
        sheltering.store(0, ordering: .sequentiallyConsistent)
        forking.store(0, ordering: .sequentiallyConsistent)
    }
}

/// Whether the current thread is inside `ForkGuard.sheltered`, in a pthread
/// key (no allocation).
private enum ShelterDepth {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: Int { Int(bitPattern: pthread_getspecific(key)) }
    static func set(_ depth: Int) { pthread_setspecific(key, UnsafeRawPointer(bitPattern: depth)) }
}

package protocol ForkGuardedLock: AnyObject, Sendable {
    func lockForFork()
    func unlockAfterFork()
}
