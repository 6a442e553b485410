import NIOCore
import NIOHTTP1
import NIOPosix

/// Builds the two listeners: the HTTP sandbox and the optional blackhole.
enum Listeners {
    /// The HTTP/1.1 server. Keep-alive and pipelining come from NIO's own
    /// server pipeline; TCP_NODELAY keeps trickled bytes from coalescing.
    static func bindHTTP(group: EventLoopGroup, address: SocketAddress, router: Router) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try pipeline.addHandler(SandboxHTTPHandler(router: router))
                }
            }
            .bind(to: address)
            .get()
    }

    /// Accepts connections and never reads from them, so a client's read
    /// timeout (not its connect timeout) is what fires. Accepted sockets stay
    /// open until the sandbox exits.
    static func bindBlackhole(group: EventLoopGroup) async throws -> Channel {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(to: address)
            .get()
    }

    /// Loopback only: 127.0.0.0/8 and ::1 (also as an IPv4-mapped address).
    static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    /// `http://127.0.0.1:PORT`, brackets around IPv6.
    static func url(of address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "127.0.0.1"
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return "http://\(host):\(address.port ?? 0)"
    }
}
