#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
private import CCurl

/// The I/O thread of one client in one process: a libcurl multi handle that
/// drives every queued lookup's transfer at once (the threaded resolver keeps
/// a stalled DNS answer from holding up the others), and timers for
/// deadlines and retry backoffs.
///
/// Nothing runs until the first queued lookup: the thread and its multi
/// handle are made then, so a Kamailio main process that only creates a
/// client and forks never has either. The loop belongs to its
/// `ClientRuntime`, which is per process: a forked child gets its own.
///
/// Completions and timer actions run on the loop thread. They never call
/// host code; they finish lookups and hand results to queues.
final class CurlLoop: @unchecked Sendable {
    // @unchecked: `inbox` is locked; everything under "loop thread only" is
    // touched by the loop thread alone, and the multi handle's wakeup by
    // other threads only under the inbox lock.
    typealias Completion = @Sendable (HTTPOutcome) -> Void
    typealias Action = @Sendable () -> Void

    private enum Command {
        case transfer(HTTPRequest, Deadline, Action?, Completion)
        case timer(ContinuousClock.Instant, Action)
    }

    private struct Inbox {
        var commands: [Command] = []
        var multi: UnsafeMutableRawPointer? = nil
        var thread: pthread_t? = nil
        var stopping = false
    }

    private let inbox = Locked(Inbox())
    private let settings: TransportSettings
    private let headers: RequestHeaders
    private let share: CurlShare

    // Loop thread only.
    private struct Running {
        let transfer: CurlTransfer
        let completion: Completion
        let token: UInt64
    }
    private enum Due {
        case deadline(key: Int, token: UInt64)
        case pendingDeadline(token: UInt64)
        case action(Action)
    }
    /// A transfer waiting for room: at most `maxConnections` are handed to
    /// libcurl at once, because libcurl 7.88 walks every handle it holds on
    /// each step (and its pending list on each removal): with thousands
    /// given to it, every step took tens of milliseconds.
    private struct Pending {
        let request: HTTPRequest
        let deadline: Deadline
        let before: Action?
        let completion: Completion
    }
    private var running: [Int: Running] = [:]
    private var pending: [UInt64: Pending] = [:]
    private var pendingOrder: [UInt64] = []
    private var pendingHead = 0
    private var idle: [CurlTransfer] = []
    private var timers = TimerHeap<Due>()
    private var tokens: UInt64 = 0
    /// Every connection socket of the loop's multi handle; outlives it.
    private let sockets = SocketLedger()

    init(settings: TransportSettings, headers: RequestHeaders, share: CurlShare) {
        self.settings = settings
        self.headers = headers
        self.share = share
    }

    /// Starts a GET; `completion` runs once on the loop thread, by
    /// `deadline` at the latest (with `.timedOut`). False if the loop could
    /// not be started (no thread, no multi handle) or is stopping:
    /// `completion` is then never called.
    /// `before` runs on the loop thread just before the request is set up
    /// (a key file check: file I/O that must not happen on the caller's).
    func start(_ request: HTTPRequest, deadline: Deadline, before: Action? = nil, _ completion: @escaping Completion) -> Bool {
        submit(.transfer(request, deadline, before, completion))
    }

    /// Runs `action` on the loop thread once `due` has come.
    func schedule(at due: ContinuousClock.Instant, _ action: @escaping Action) -> Bool {
        submit(.timer(due, action))
    }

    private func submit(_ command: Command) -> Bool {
        inbox.withLock { inbox in
            guard !inbox.stopping else { return false }
            if inbox.thread == nil {
                guard let multi = CurlMulti.make() else { return false }
                _ = handoff_curl_multi_set_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, settings.maxConnections)
                inbox.multi = multi
                let loop = Unmanaged.passRetained(self)
                guard let thread = LibraryThread.start(name: "polyai-handoff", { loop.takeRetainedValue().run(multi) }) else {
                    loop.release()
                    curl_multi_cleanup(multi)
                    inbox.multi = nil
                    return false
                }
                inbox.thread = thread
                Self.live.withLock { $0[ObjectIdentifier(self)] = self }
            }
            inbox.commands.append(command)
            if let multi = inbox.multi { _ = curl_multi_wakeup(multi) }
            return true
        }
    }

    /// Ends the thread: from another thread, waits for it; from the loop
    /// thread itself (its last completion freed the client), lets it end
    /// after the current step. Transfers still running are dropped without
    /// their completions, which only a freed client's lookups could await.
    func stop() {
        let thread = inbox.withLock { inbox -> pthread_t? in
            inbox.stopping = true
            if let multi = inbox.multi { _ = curl_multi_wakeup(multi) }
            return inbox.thread
        }
        guard let thread else { return }
        if LibraryThread.isCurrent(thread) {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    // MARK: the loop thread

    private func run(_ multi: UnsafeMutableRawPointer) {
        while true {
            let (commands, stopping) = inbox.withLock { inbox -> ([Command], Bool) in
                defer { inbox.commands.removeAll(keepingCapacity: true) }
                return (inbox.commands, inbox.stopping)
            }
            if stopping { break }
            for command in commands { take(command, multi) }
            var stillRunning: Int32 = 0
            _ = ForkGuard.sheltered { curl_multi_perform(multi, &stillRunning) }
            finishDone(multi)
            fireDue(multi)
            launchPending(multi)
            _ = curl_multi_poll(multi, nil, 0, waitMs(), nil)
        }
        inbox.withLock { $0.multi = nil }
        ForkGuard.sheltered {
            for (_, entry) in running { curl_multi_remove_handle(multi, entry.transfer.easy) }
        }
        running.removeAll()
        pending.removeAll()
        idle.removeAll()
        timers.removeAll()
        // The transfers are gone; closing the connections calls back into
        // `sockets`, which this object still holds.
        ForkGuard.sheltered { _ = curl_multi_cleanup(multi) }
        Self.live.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(self)) }
    }

    /// The loop's own generic types, instantiated once on the calling
    /// thread (see PathWarmUp): the I/O thread's first use of them would
    /// take the Swift runtime's metadata locks, which a fork could catch.
    static func warmUpTypes() {
        var timers = TimerHeap<Due>()
        timers.push(.pendingDeadline(token: 0), due: .now)
        _ = timers.popDue(at: .now.advanced(by: .seconds(1)))
        var running: [Int: Running] = [:]
        _ = running.removeValue(forKey: 0)
        var pending: [UInt64: Pending] = [:]
        _ = pending.removeValue(forKey: 0)
        var commands: [Command] = []
        commands.removeAll(keepingCapacity: true)
        var idle: [CurlTransfer] = []
        _ = idle.popLast()
    }

    /// Every loop whose thread runs, from its start to its end. In a forked
    /// child, where the parent's threads are gone, it keeps what they held
    /// reachable (a leak checker would call it lost) and never freed.
    private static let live: Locked<[ObjectIdentifier: CurlLoop]> = {
        let live = Locked<[ObjectIdentifier: CurlLoop]>([:])
        ForkGuard.protect(live)
        return live
    }()

    private func take(_ command: Command, _ multi: UnsafeMutableRawPointer) {
        switch command {
        case .timer(let due, let action):
            timers.push(.action(action), due: due)
        case .transfer(let request, let deadline, let before, let completion):
            guard running.count < settings.maxConnections else {
                tokens &+= 1
                pending[tokens] = Pending(request: request, deadline: deadline, before: before, completion: completion)
                pendingOrder.append(tokens)
                timers.push(.pendingDeadline(token: tokens), due: deadline.end)
                return
            }
            launch(request, deadline, before, completion, multi)
        }
    }

    /// Hands the transfers waiting for room to libcurl, oldest first.
    private func launchPending(_ multi: UnsafeMutableRawPointer) {
        while running.count < settings.maxConnections, pendingHead < pendingOrder.count {
            let token = pendingOrder[pendingHead]
            pendingHead += 1
            guard let next = pending.removeValue(forKey: token) else { continue }
            launch(next.request, next.deadline, next.before, next.completion, multi)
        }
        if pendingHead == pendingOrder.count {
            pendingOrder.removeAll(keepingCapacity: pendingOrder.count <= 4096)
            pendingHead = 0
        } else if pendingHead >= 4096, pendingHead * 2 >= pendingOrder.count {
            pendingOrder.removeFirst(pendingHead)
            pendingHead = 0
        }
    }

    private func launch(_ request: HTTPRequest, _ deadline: Deadline, _ before: Action?, _ completion: @escaping Completion,
                        _ multi: UnsafeMutableRawPointer) {
        before?()
        guard let transfer = idle.popLast()
            ?? CurlTransfer(settings: settings, headers: headers, share: share, sockets: sockets, reserveBody: false) else {
            completion(.failed("could not create a libcurl handle", retryable: false))
            return
        }
        guard transfer.prepare(request), curl_multi_add_handle(multi, transfer.easy) == CURLM_OK else {
            completion(.failed("could not start the transfer", retryable: false))
            return
        }
        tokens &+= 1
        let key = Int(bitPattern: transfer.easy)
        running[key] = Running(transfer: transfer, completion: completion, token: tokens)
        timers.push(.deadline(key: key, token: tokens), due: deadline.end)
    }

    private func finishDone(_ multi: UnsafeMutableRawPointer) {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let entry = running.removeValue(forKey: Int(bitPattern: easy)) else { continue }
            let outcome = entry.transfer.outcome(rawCode: code.rawValue)
            release(entry.transfer, multi)
            entry.completion(outcome)
        }
    }

    /// Timers due now. Transfers past their deadline complete first, all of
    /// them, and are torn down after (closing a connection mid-TLS costs
    /// more than completing a lookup): with a thousand due at once, the
    /// last completion is not kept waiting behind a thousand teardowns.
    private func fireDue(_ multi: UnsafeMutableRawPointer) {
        let now = ContinuousClock.now
        var expired: [CurlTransfer] = []
        while let due = timers.popDue(at: now) {
            switch due {
            case .action(let action):
                action()
            case .pendingDeadline(let token):
                // Never handed to libcurl: it times out where it waited.
                pending.removeValue(forKey: token)?.completion(.timedOut)
            case .deadline(let key, let token):
                guard let entry = running[key], entry.token == token else { continue }
                running.removeValue(forKey: key)
                expired.append(entry.transfer)
                entry.completion(.timedOut)
            }
        }
        for transfer in expired { release(transfer, multi) }
    }

    /// Detaches a transfer and keeps it for the next request, up to the cap.
    private func release(_ transfer: CurlTransfer, _ multi: UnsafeMutableRawPointer) {
        ForkGuard.sheltered { _ = curl_multi_remove_handle(multi, transfer.easy) }
        _ = transfer.finish()
        if transfer.configured, idle.count < Limits.maxIdleConnections { idle.append(transfer) }
    }

    /// Until the next timer, at most a second (libcurl shortens it to its
    /// own timers; a wakeup ends it at once).
    private func waitMs() -> Int32 {
        guard let due = timers.nextDue else { return 1000 }
        let left = due - ContinuousClock.now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        guard seconds < 1 else { return 1000 }
        return Int32(attoseconds / 1_000_000_000_000_000) + 1
    }
}
