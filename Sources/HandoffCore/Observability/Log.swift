#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

public enum LogLevel: Int, Sendable, Comparable {
    case error = 0, warning, info, debug

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The process-wide log sink the host installs. Messages are built only when
/// their level is enabled, and never hold the API key.
///
/// The sink is called with no lock held, so it may log, create clients or
/// install another sink. `install` returns only once no thread is still
/// inside the sink it replaced, so a module can free its userdata or unload
/// right after: writers count themselves in one of two epoch counters, and
/// an install flips the epoch and waits for the old one to drain.
public enum Log {
    public typealias Sink = @Sendable (LogLevel, String) -> Void

    private final class Installed: Sendable {
        let sink: Sink
        init(_ sink: @escaping Sink) { self.sink = sink }
    }

    private static let installed = Atomic<Unmanaged<Installed>?>(nil)
    private static let maxLevel = Atomic<Int>(LogLevel.warning.rawValue)
    private static let epoch = Atomic<Int>(0)
    private static let writersInEpoch0 = Atomic<Int>(0)
    private static let writersInEpoch1 = Atomic<Int>(0)
    /// Serialises installs made outside the sink.
    nonisolated(unsafe) private static let installing: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        return mutex
    }()

    /// Returns once no other thread is inside the sink being replaced. From
    /// inside the sink itself (which cannot wait for its own call), the new
    /// sink takes effect for lines written from then on.
    public static func install(_ newSink: Sink?) {
        _ = ForkGeneration.current
        let fresh = newSink.map { Unmanaged.passRetained(Installed($0)) }
        if WriterDepth.current != 0 {
            let old = installed.exchange(fresh, ordering: .sequentiallyConsistent)
            // Other threads may still be inside it: keep it alive.
            if let old { Abandoned.keep(old.takeUnretainedValue()); old.release() }
            return
        }
        pthread_mutex_lock(installing)
        let old = installed.exchange(fresh, ordering: .sequentiallyConsistent)
        let drained = epoch.load(ordering: .sequentiallyConsistent)
        epoch.store(drained ^ 1, ordering: .sequentiallyConsistent)
        var pause = timespec(tv_sec: 0, tv_nsec: 50_000)
        while writerCount(drained) > 0 { nanosleep(&pause, nil) }
        pthread_mutex_unlock(installing)
        old?.release()
    }

    /// The write path's lazy globals (its thread key, the install lock),
    /// set up before any fork could catch a thread setting them up: a
    /// host's first log line otherwise comes with its first lookup, on any
    /// thread, whenever a callback was installed (see PathWarmUp).
    static func warmUp() {
        _ = WriterDepth.current
        _ = installing
        // And what the fork handler resets.
        _ = writersInEpoch0.load(ordering: .relaxed) + writersInEpoch1.load(ordering: .relaxed) + epoch.load(ordering: .relaxed)
        _ = installed.load(ordering: .relaxed)
        _ = maxLevel.load(ordering: .relaxed)
    }

    public static func setLevel(_ level: LogLevel) {
        maxLevel.store(level.rawValue, ordering: .relaxed)
    }

    static func isEnabled(_ level: LogLevel) -> Bool {
        level.rawValue <= maxLevel.load(ordering: .relaxed) && installed.load(ordering: .acquiring) != nil
    }

    /// Must not be called with a library lock held: the sink is host code.
    static func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard isEnabled(level) else { return }
        let text = SafeText.make(message(), maxBytes: 2048).text
        let generation = ForkGeneration.current
        var current = 0
        while true {
            current = epoch.load(ordering: .sequentiallyConsistent)
            countWriter(current, 1)
            if epoch.load(ordering: .sequentiallyConsistent) == current { break }
            countWriter(current, -1)
        }
        WriterDepth.enter()
        defer {
            WriterDepth.leave()
            // A fork from inside the sink reset the counts in the child.
            if ForkGeneration.current == generation {
                countWriter(current, -1)
            }
        }
        guard let sink = installed.load(ordering: .sequentiallyConsistent) else { return }
        sink.takeUnretainedValue().sink(level, text)
    }

    private static func writerCount(_ epoch: Int) -> Int {
        epoch & 1 == 0 ? writersInEpoch0.load(ordering: .sequentiallyConsistent)
                       : writersInEpoch1.load(ordering: .sequentiallyConsistent)
    }

    private static func countWriter(_ epoch: Int, _ delta: Int) {
        if epoch & 1 == 0 {
            writersInEpoch0.wrappingAdd(delta, ordering: .sequentiallyConsistent)
        } else {
            writersInEpoch1.wrappingAdd(delta, ordering: .sequentiallyConsistent)
        }
    }

    /// In a forked child: the other threads that were writing do not exist,
    /// and an install in progress there never returns. The forking thread's
    /// own depth stays: its frames, if it forked inside the sink, unwind.
    static func startAfreshInChild() {
        writersInEpoch0.store(0, ordering: .sequentiallyConsistent)
        writersInEpoch1.store(0, ordering: .sequentiallyConsistent)
        pthread_mutex_init(installing, nil)
    }
}

/// How many Log.write calls the current thread is inside (a sink that logs
/// nests them), in a pthread key: no allocation, the count is the value.
private enum WriterDepth {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: Int { Int(bitPattern: pthread_getspecific(key)) }

    static func enter() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: current &+ 1)) }
    static func leave() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: current &- 1)) }
}
