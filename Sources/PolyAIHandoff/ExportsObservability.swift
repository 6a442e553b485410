import CPolyAIHandoff
import HandoffCore
import Synchronization

// Logging and statistics of polyai_handoff.h.

/// The C callback and its userdata, carried into the Swift log sink. The host
/// owns userdata and promises it outlives the installation.
private struct CLogTarget: @unchecked Sendable {
    let function: handoff_log_fn
    let userdata: UnsafeMutableRawPointer?
}

@c @implementation
public func handoff_set_log_callback(_ function: handoff_log_fn?, _ userdata: UnsafeMutableRawPointer?) {
    guard let function else {
        Log.install(nil)
        return
    }
    let target = CLogTarget(function: function, userdata: userdata)
    Log.install { level, message in
        message.withCString { target.function(handoff_log_level(rawValue: UInt32(level.rawValue)), $0, target.userdata) }
    }
}

@c @implementation
public func handoff_set_log_level(_ level: handoff_log_level) {
    Log.setLevel(LogLevel(rawValue: Int(level.rawValue)) ?? .debug)
}

/// A stats snapshot with its Prometheus text, which C borrows. The text is
/// built when first asked for: a host that reads a few counters after every
/// lookup (the Kamailio module) must not pay for rendering all of them.
final class StatsHandle: @unchecked Sendable {
    // @unchecked: immutable after init, but for the text, an atomic.
    let snapshot: StatsSnapshot
    private let prometheusText = Atomic<Unmanaged<OwnedCString>?>(nil)

    init(_ snapshot: StatsSnapshot) {
        self.snapshot = snapshot
    }

    deinit { prometheusText.load(ordering: .acquiring)?.release() }

    var prometheusPointer: UnsafePointer<CChar> {
        UnsafePointer(publishedOnce(prometheusText) { OwnedCString(snapshot.prometheus) }.pointer)
    }
}

@c @implementation
public func handoff_client_stats(_ client: OpaquePointer?) -> OpaquePointer? {
    guard let client = Handle.borrow(client, as: HandoffClient.self) else { return nil }
    return Handle.retain(StatsHandle(client.statistics()))
}

@c @implementation
public func handoff_process_stats() -> OpaquePointer? {
    guard let client = ProcessClient.current else { return nil }
    return Handle.retain(StatsHandle(client.statistics()))
}

@c @implementation
public func handoff_stats_get(_ stats: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UInt64 {
    guard let stats = Handle.borrow(stats, as: StatsHandle.self), let name else { return 0 }
    return stats.snapshot.value(named: CallerText.string(name)) ?? 0
}

@c @implementation
public func handoff_stats_prometheus(_ stats: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let stats = Handle.borrow(stats, as: StatsHandle.self) else { return nil }
    return stats.prometheusPointer
}

@c @implementation
public func handoff_stats_free(_ stats: OpaquePointer?) {
    Handle.release(stats, as: StatsHandle.self)
}
