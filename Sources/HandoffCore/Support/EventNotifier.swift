#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import CHandoffSystem

/// A descriptor that is readable while something waits: an eventfd,
/// non-blocking and close-on-exec, that a host puts in its poll set,
/// epoll, libevent or libuv loop.
final class EventNotifier: Sendable {
    let fd: Int32

    /// nil (with errno) if no descriptor could be made.
    init?() {
        fd = handoff_eventfd()
        guard fd >= 0 else { return nil }
    }

    /// Makes the descriptor readable (again).
    func raise() {
        var one: UInt64 = 1
        while write(fd, &one, 8) < 0 && errno == EINTR {}
    }

    /// Makes it unreadable until the next `raise`.
    func lower() {
        var count: UInt64 = 0
        while read(fd, &count, 8) < 0 && errno == EINTR {}
    }

    /// Called once, by the owner, when nothing can raise it any more.
    func close() { _ = Glibc.close(fd) }
}
