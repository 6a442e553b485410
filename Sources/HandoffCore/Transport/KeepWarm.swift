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
/// the client's I/O thread (the one of queued lookups); a slot's
/// replacement, which blocks for its handshakes, on a short-lived library
/// thread, so the I/O thread never waits. The I/O thread's own connection
/// (queued lookups) is replaced in its multi handle, without blocking. Neither calls host code (no log lines). Per
/// process, like the rest of `ClientRuntime`: a forked child starts with
/// none of it armed.
final class KeepWarm: Sendable {
    private let transport: Transport
    private let loop: CurlLoop
    private let request: HTTPRequest?
    private let count: Int
    private let maxIdleMs: Int
    private let keepForMs: Int
    /// Armed by a warm-up of the slots (synchronous lookups), and of the
    /// I/O thread's connection (queued lookups).
    private let enabled = Atomic<Bool>(false)
    private let loopEnabled = Atomic<Bool>(false)
    private let armed = Atomic<Bool>(false)
    /// The last synchronous and queued lookups, apart: a Kamailio async
    /// process, whose slots only its warm-up used, must not keep them warm
    /// for its queued lookups (nor a worker its unused queue).
    /// Never: long before any monotonic time (which starts near 0 at boot,
    /// so 0 would be "recent" on a host up less than keep_warm_ms).
    private let lastSyncUseMs = Atomic<Int>(Int.min / 2)
    private let lastQueuedUseMs = Atomic<Int>(Int.min / 2)
    /// The replacement running now, if any; `stop` joins it.
    private let refresher = Locked<(thread: pthread_t?, stopped: Bool)>((nil, false))

    /// `url`: nil for a client without lookups (nothing to keep warm).
    init(transport: Transport, loop: CurlLoop, url: String?, config: HandoffConfig) {
        self.transport = transport
        self.loop = loop
        request = url.map { HTTPRequest(url: $0, timeoutMs: config.connectTimeoutMs ?? config.timeoutMs) }
        count = max(config.warmConnections, 1)
        maxIdleMs = config.connectionMaxIdleMs
        keepForMs = config.keepWarmMs
    }

    /// After a warm-up: from now on, until `keep_warm_ms` without lookups.
    /// `queued`: the I/O thread's connection, rather than the slots.
    func start(queued: Bool = false) {
        guard request != nil, keepForMs > 0 else { return }
        if queued {
            loopEnabled.store(true, ordering: .releasing)
        } else {
            enabled.store(true, ordering: .releasing)
        }
        noteUse(queued: queued)
    }

    /// Each lookup, synchronous or queued: two relaxed loads for a client
    /// that never warmed.
    func noteUse(queued: Bool) {
        guard enabled.load(ordering: .relaxed) || loopEnabled.load(ordering: .relaxed) else { return }
        if queued {
            lastQueuedUseMs.store(Self.nowMs, ordering: .relaxed)
        } else {
            lastSyncUseMs.store(Self.nowMs, ordering: .relaxed)
        }
        guard !armed.load(ordering: .relaxed), !armed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        arm()
    }

    /// With the client, in the process that made it: no replacement starts
    /// after this, and one running is waited for (its handshakes end by its
    /// timeout), so nothing of the client is used once it is freed.
    func stop() {
        let running = refresher.withLock { state -> pthread_t? in
            state.stopped = true
            defer { state.thread = nil }
            return state.thread
        }
        if let running { pthread_join(running, nil) }
    }

    /// How often the slots are looked at, and the idle time that gets one
    /// replaced: no connection is idle much past 7/8 of the maximum.
    private var periodMs: Int { max(maxIdleMs / Limits.keepWarmChecksPerMaxIdle, 1) }
    private var replaceAfter: Duration { .milliseconds(maxIdleMs * Limits.keepWarmReplaceEighths / 8) }

    private func arm() {
        if !loop.schedule(at: .now.advanced(by: .milliseconds(periodMs)), { [self] in tick() }) {
            armed.store(false, ordering: .releasing)
        }
    }

    /// On the I/O thread: a replacement thread only when a slot is due.
    private func tick() {
        guard let request else { return }
        let (syncWanted, queuedWanted) = (isRecent(lastSyncUseMs), isRecent(lastQueuedUseMs))
        if !syncWanted, !queuedWanted {
            armed.store(false, ordering: .releasing)
            // A lookup that came in between saw it armed and left it to us.
            if isRecent(lastSyncUseMs) || isRecent(lastQueuedUseMs),
               !armed.exchange(true, ordering: .acquiringAndReleasing) { arm() }
            return
        }
        let dropAfter = Duration.milliseconds(maxIdleMs)
        if syncWanted, enabled.load(ordering: .acquiring),
           transport.hasIdle(count: count, idleFor: replaceAfter, orDropAfter: dropAfter) {
            startRefresher(request, dropAfter)
        }
        // On this thread already, and it blocks on nothing: the handshakes
        // run in the loop's multi handle.
        if queuedWanted, loopEnabled.load(ordering: .acquiring) { loop.refreshIfIdle(request, idleFor: replaceAfter) }
        arm()
    }

    /// A lookup of that kind within keep_warm_ms.
    private func isRecent(_ lastUseMs: borrowing Atomic<Int>) -> Bool {
        Self.nowMs - lastUseMs.load(ordering: .relaxed) <= keepForMs
    }

    private func startRefresher(_ request: HTTPRequest, _ dropAfter: Duration) {
        let (transport, count, replaceAfter) = (transport, count, replaceAfter)
        refresher.withLock { state in
            guard !state.stopped else { return }
            // The last one ended: joined here (quickly), the next started.
            if let previous = state.thread {
                guard finished.load(ordering: .acquiring) else { return }
                pthread_join(previous, nil)
                state.thread = nil
            }
            finished.store(false, ordering: .releasing)
            state.thread = LibraryThread.start(name: "polyai-keepwarm") { [self] in
                _ = transport.refresh(request, count: count, replaceAfter: replaceAfter, dropAfter: dropAfter)
                finished.store(true, ordering: .releasing)
            }
            if state.thread == nil { finished.store(true, ordering: .releasing) }
        }
    }

    private let finished = Atomic<Bool>(true)

    private static var nowMs: Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}
