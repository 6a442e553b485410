import Dispatch

/// Watches SIGINT and SIGTERM with dispatch sources, so the handler runs as
/// ordinary code rather than in a signal context.
final class TerminationSignals {
    private let sources: [any DispatchSourceSignal]

    init(onSignal: @escaping @Sendable () -> Void) {
        Posix.ignoreTerminationSignals()
        sources = Posix.terminationSignals.map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: onSignal)
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
