#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Keeps a warmed client's connections warm while the process uses it: a
/// connection idle for most of `connection_max_idle_ms` is replaced by a
/// newly warmed one (a fresh DNS answer, TCP, TLS, HTTP/2 settings; still no
/// request) before the server's idle timeout or libcurl's maximum age can
/// close it, so the first lookup after a quiet spell costs one round trip.
/// It stops `keep_warm_ms` after the last lookup and starts again with the
/// next one.
///
/// Only once the client has warmed (handoff_client_warm, warm_connections):
/// a client that never asked has no timer and no thread. The timer runs on
/// the client's I/O thread (the one of queued lookups); the replacement,
/// which blocks for its handshakes, on a short-lived library thread, so the
/// I/O thread never waits. Neither calls host code (no log lines). Per
/// process, like the rest of `ClientRuntime`: a forked child starts with
/// none of it armed.
final class KeepWarm: Sendable {
    private let transport: Transport
    private let loop: CurlLoop
    private let stats: ClientStats
    private let request: HTTPRequest?
    private let count: Int
    private let maxIdleMs: Int
    private let keepForMs: Int
    private let enabled = Atomic<Bool>(false)
    private let armed = Atomic<Bool>(false)
    private let refreshing = Atomic<Bool>(false)
    private let lastUseMs = Atomic<Int>(0)

    /// `url`: nil for a client without lookups (nothing to keep warm).
    init(transport: Transport, loop: CurlLoop, stats: ClientStats, url: String?, config: HandoffConfig) {
        self.transport = transport
        self.loop = loop
        self.stats = stats
        request = url.map { HTTPRequest(url: $0, timeoutMs: config.connectTimeoutMs ?? config.timeoutMs) }
        count = max(config.warmConnections, 1)
        maxIdleMs = config.connectionMaxIdleMs
        keepForMs = config.keepWarmMs
    }

    /// After a warm-up: from now on, until `keep_warm_ms` without lookups.
    func start() {
        guard request != nil, keepForMs > 0 else { return }
        enabled.store(true, ordering: .releasing)
        noteUse()
    }

    /// Each synchronous lookup: one relaxed load for a client that never warmed.
    func noteUse() {
        guard enabled.load(ordering: .relaxed) else { return }
        lastUseMs.store(Self.nowMs, ordering: .relaxed)
        guard !armed.load(ordering: .relaxed), !armed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        arm()
    }

    /// How often the slots are looked at, and the idle time that gets one
    /// replaced: no connection is idle much past 7/8 of the maximum.
    private var periodMs: Int { max(maxIdleMs / 8, 1) }
    private var replaceAfterMs: Int { maxIdleMs * 3 / 4 }

    private func arm() {
        if !loop.schedule(at: .now.advanced(by: .milliseconds(periodMs)), { [self] in tick() }) {
            armed.store(false, ordering: .releasing)
        }
    }

    /// On the I/O thread.
    private func tick() {
        guard let request else { return }
        if Self.nowMs - lastUseMs.load(ordering: .relaxed) > keepForMs {
            armed.store(false, ordering: .releasing)
            // A lookup that came in between saw it armed and left it to us.
            if Self.nowMs - lastUseMs.load(ordering: .relaxed) <= keepForMs,
               !armed.exchange(true, ordering: .acquiringAndReleasing) { arm() }
            return
        }
        if !refreshing.exchange(true, ordering: .acquiringAndReleasing) {
            let (transport, stats, count) = (transport, stats, count)
            let replaceAfter = Duration.milliseconds(replaceAfterMs), dropAfter = Duration.milliseconds(maxIdleMs)
            let started = LibraryThread.start(name: "polyai-keepwarm") { [self] in
                let kept = transport.refresh(request, count: count, replaceAfter: replaceAfter, dropAfter: dropAfter)
                if kept > 0 { stats.recordKeptWarm(kept) }
                refreshing.store(false, ordering: .releasing)
            }
            if let started { pthread_detach(started) } else { refreshing.store(false, ordering: .releasing) }
        }
        arm()
    }

    private static var nowMs: Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}
