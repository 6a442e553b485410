#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import CHandoffSystem

/// A thread the library owns. It starts with every signal blocked, so a
/// host's signal handlers (Asterisk's, Kamailio's SIGCHLD and SIGUSR1) only
/// ever run on the host's own threads.
enum LibraryThread {
    private final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new joinable thread named `name` (at most 15
    /// bytes, as Linux allows); nil if the thread could not be made.
    static func start(name: String, _ body: @escaping () -> Void) -> pthread_t? {
        var all = sigset_t(), previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let context = Unmanaged.passRetained(Start(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<Start>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            return nil
        }
        _ = handoff_name_thread(thread, String(decoding: name.utf8.prefix(15), as: UTF8.self))
        return thread
    }

    static func isCurrent(_ thread: pthread_t) -> Bool { pthread_equal(thread, pthread_self()) != 0 }
}
