import NIOCore
import NIOPosix

/// Binds the listeners, announces them, and runs until SIGINT or SIGTERM.
struct SandboxServer {
    let options: SandboxOptions
    let store: FixtureStore

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    func run() async throws {
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(options.host, port: options.port)
        } catch {
            throw StartError(description: "cannot resolve --host \(options.host): \(error)")
        }
        guard options.allowNonLoopback || Listeners.isLoopback(address) else {
            throw StartError(description: "refusing to bind \(address.ipAddress ?? options.host), which is not a loopback address; pass --allow-non-loopback to do it anyway")
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let router = Router(
            store: store,
            stats: Stats(),
            desk: store.file.dniReservation.map(ReservationDesk.init),
            delayMs: options.delayMs
        )
        var channels: [Channel] = []
        do {
            let http: Channel
            do {
                http = try await Listeners.bindHTTP(group: group, address: address, router: router)
            } catch {
                throw StartError(description: "cannot listen on \(Listeners.url(of: address)): \(error)")
            }
            channels.append(http)
            var blackhole: Channel?
            if options.blackholePortFile != nil {
                let channel = try await Listeners.bindBlackhole(group: group)
                channels.append(channel)
                blackhole = channel
            }
            // Installed before the listening line, so a test may signal as soon as it reads it.
            let signals = TerminationSignals { http.close(promise: nil) }

            // Port files first: once the listening line is out, everything is ready.
            if let path = options.blackholePortFile, let port = blackhole?.localAddress?.port {
                try Posix.writeFileAtomically(path, String(port))
            }
            if let path = options.portFile, let port = http.localAddress?.port {
                try Posix.writeFileAtomically(path, String(port))
            }
            let bound = http.localAddress ?? address
            Posix.writeLine("listening on \(Listeners.url(of: bound))")
            if let port = blackhole?.localAddress?.port {
                Posix.writeLine("blackhole on 127.0.0.1:\(port)")
            }

            try await http.closeFuture.get()
            withExtendedLifetime(signals) {}  // the sources must outlive the wait
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        for channel in channels.dropFirst() { try? await channel.close() }
        try await group.shutdownGracefully()
    }
}
