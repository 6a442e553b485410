#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Checks and flags on the descriptors libcurl opens for the library.
enum Descriptors {
    /// The descriptors, from the lowest free one up, that are free now:
    /// the only ones a socket pair made next can be. Empty when even the
    /// probe cannot be opened (out of descriptors).
    static func freeDescriptorsAhead() -> [Int32] {
        let probe = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard probe >= 0 else { return [] }
        close(probe)
        return (probe..<(probe &+ Limits.wakeupPairSearchWindow)).filter { fcntl($0, F_GETFD) < 0 && errno == EBADF }
    }

    /// curl_multi_init makes a socket pair to wake curl_multi_poll, without
    /// close-on-exec, and does not expose it. It takes the lowest free
    /// descriptors: among those free just before (`wereFree`), the pair is
    /// two non-blocking Unix stream sockets without FD_CLOEXEC. A host's
    /// descriptor that existed before is never touched; if other threads
    /// made such sockets at the same instant (more than two candidates),
    /// every two whose inodes were allocated together are marked.
    static func markSocketPair(among wereFree: [Int32]) {
        var candidates: [Candidate] = []
        for fd in wereFree {
            guard let inode = unmarkedUnixSocketInode(fd) else { continue }
            candidates.append(Candidate(fd: fd, inode: inode))
        }
        if candidates.count == 2 {
            _ = fcntl(candidates[0].fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(candidates[1].fd, F_SETFD, FD_CLOEXEC)
            return
        }
        // Other threads' libcurl pairs (a resolver's, another multi's) made
        // at the same instant are marked too: close-on-exec is right for them.
        for first in candidates {
            guard let second = candidates.first(where: { $0.inode == first.inode &+ 1 }) else { continue }
            _ = fcntl(first.fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(second.fd, F_SETFD, FD_CLOEXEC)
        }
    }

    /// A struct, not a tuple: an array of tuples makes the Swift runtime
    /// build tuple metadata under one process-wide lock on first use, which
    /// a fork() at that moment leaves held in the child.
    private struct Candidate {
        let fd: Int32
        let inode: UInt
    }

    private static func unmarkedUnixSocketInode(_ fd: Int32) -> UInt? {
        let flags = fcntl(fd, F_GETFD)
        guard flags >= 0, flags & FD_CLOEXEC == 0, fcntl(fd, F_GETFL) & O_NONBLOCK != 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        var domain: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0, domain == AF_UNIX else { return nil }
        return UInt(info.st_ino)
    }

    /// The inode of `fd` when it is a socket; nil when it is closed or
    /// something else. Sockets' inodes are unique while they are open, so
    /// it tells a socket from a later descriptor with the same number.
    static func socketInode(_ fd: Int32) -> UInt? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return UInt(info.st_ino)
    }

    /// The local port, peer port and peer address (4 or 16 bytes) of a
    /// connected TCP socket; nil for anything else.
    static func endpoints(_ fd: Int32) -> SocketEndpoints? {
        guard let local = endpoint(fd, getsockname), let peer = endpoint(fd, getpeername) else { return nil }
        return SocketEndpoints(localPort: local.port, peerPort: peer.port, peerAddress: peer.address)
    }

    struct SocketEndpoints: Equatable {
        let localPort: Int
        let peerPort: Int
        let peerAddress: [UInt8]
    }

    /// An address in text (as libcurl reports it) as bytes; nil if it is
    /// neither IPv4 nor IPv6.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        return nil
    }

    private struct Endpoint {
        let port: Int
        let address: [UInt8]
    }

    /// IPv4 or IPv6 (sockaddr_in6 is large enough for either, and both keep
    /// the port at the same place).
    private static func endpoint(_ fd: Int32, _ name: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> Endpoint? {
        var address = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let got = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { name(fd, $0, &length) }
        }
        guard got == 0 else { return nil }
        let port = Int(UInt16(bigEndian: address.sin6_port))
        switch Int32(address.sin6_family) {
        case AF_INET6: return Endpoint(port: port, address: withUnsafeBytes(of: &address.sin6_addr) { Array($0) })
        case AF_INET:
            // sockaddr_in's address sits where sockaddr_in6 keeps its flow info.
            return Endpoint(port: port, address: withUnsafeBytes(of: &address.sin6_flowinfo) { Array($0) })
        default: return nil
        }
    }

    /// True when the peer of `fd` has shut down its side (FIN: POLLRDHUP,
    /// even with unread bytes before it) or the socket failed, now.
    static func isHungUpNow(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: 0x2000 /* POLLRDHUP */, revents: 0)
        while true {
            let ready = poll(&entry, 1, 0)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0 && entry.revents & (0x2000 | Int16(POLLHUP) | Int16(POLLERR)) != 0
        }
    }

    /// True when `fd` has data, an end of stream or an error waiting, now.
    static func isReadableNow(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP, a _GNU_SOURCE macro */, revents: 0)
        while true {
            let ready = poll(&entry, 1, 0)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0 && entry.revents != 0
        }
    }
}
