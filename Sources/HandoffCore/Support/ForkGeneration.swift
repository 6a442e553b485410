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
        pthread_atfork(
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

    fileprivate static func beforeFork() {
        pthread_mutex_lock(registry)
        for lock in locks { lock.lockForFork() }
    }

    fileprivate static func afterForkInParent() {
        for lock in locks.reversed() { lock.unlockAfterFork() }
        pthread_mutex_unlock(registry)
    }

    fileprivate static func afterForkInChild() {
        // The thread that forked took them, and is the one thread here.
        for lock in locks.reversed() { lock.unlockAfterFork() }
        pthread_mutex_unlock(registry)
    }
}

package protocol ForkGuardedLock: AnyObject, Sendable {
    func lockForFork()
    func unlockAfterFork()
}
