import Synchronization

public enum LogLevel: Int, Sendable, Comparable {
    case error = 0, warning, info, debug

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The process-wide log sink the host installs. Messages are built only when
/// their level is enabled, and never hold the API key (nothing logged is
/// derived from it).
public enum Log {
    public typealias Sink = @Sendable (LogLevel, String) -> Void

    private static let sink = Mutex<Sink?>(nil)
    private static let maxLevel = Atomic<Int>(LogLevel.warning.rawValue)
    private static let hasSink = Atomic<Bool>(false)

    public static func install(_ newSink: Sink?) {
        sink.withLock { $0 = newSink }
        hasSink.store(newSink != nil, ordering: .releasing)
    }

    public static func setLevel(_ level: LogLevel) {
        maxLevel.store(level.rawValue, ordering: .relaxed)
    }

    static func isEnabled(_ level: LogLevel) -> Bool {
        hasSink.load(ordering: .acquiring) && level.rawValue <= maxLevel.load(ordering: .relaxed)
    }

    static func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard isEnabled(level), let current = sink.withLock({ $0 }) else { return }
        current(level, SafeText.make(message(), maxBytes: 2048).text)
    }
}
