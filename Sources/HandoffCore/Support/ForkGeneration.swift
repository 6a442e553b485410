#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Counts the forks this process descends from: a pthread_atfork child
/// handler bumps it in every child. State tagged with an older generation
/// belongs to a parent and must not be used. One atomic load per check, where
/// getpid() was a system call three times per lookup.
enum ForkGeneration {
    private static let counter = Atomic<Int>(0)

    /// Registered once, the first time anything asks. glibc unregisters it
    /// if the library is unloaded.
    private static let registered: Bool = {
        pthread_atfork(nil, nil) { ForkGeneration.counter.wrappingAdd(1, ordering: .relaxed) } == 0
    }()

    static var current: Int {
        _ = registered
        return counter.load(ordering: .relaxed)
    }
}
