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
    /// A warm-up's end, and whether libcurl kept its connection.
    typealias WarmCompletion = @Sendable (WarmOutcome, _ kept: Bool) -> Void

    private enum Command {
        case transfer(HTTPRequest, Deadline, Action?, Completion)
        case warm(HTTPRequest, Deadline, WarmCompletion)
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
        let token: UInt64
        let request: HTTPRequest
        let deadline: Deadline
        let job: Job
    }
    /// What a running transfer is for.
    private enum Job {
        case lookup(Completion)
        /// One of a hedged lookup's two requests (`hedge`: the second).
        case raced(Race, hedge: Bool)
        /// A warm-up; nil: keep-warm's own replacement.
        case warm(WarmCompletion?)
    }
    /// A hedged lookup: its first request, and the second one sent after
    /// `hedge.afterMs` without an answer. The first answer completes it,
    /// the other request is cancelled; a failure waits for the other
    /// request while that one runs.
    private final class Race {
        let hedge: Hedge
        let completion: Completion
        /// The keys of the two requests while they run.
        var first: Int?
        var second: Int?
        /// The first request's failure, kept while the second runs.
        var firstFailure: HTTPOutcome?
        var hedgeDue = true
        var done = false

        init(hedge: Hedge, completion: @escaping Completion) {
            self.hedge = hedge
            self.completion = completion
        }
    }
    private enum Due {
        case deadline(key: Int, token: UInt64)
        case pendingDeadline(token: UInt64)
        case hedge(Race)
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
    /// The multi handle, for timer actions (keep-warm) that start transfers.
    private var currentMulti: UnsafeMutableRawPointer? = nil
    /// When a transfer last ended on a connection of the loop, and whether
    /// a warm-up here kept one (HTTP/2): keep-warm's state.
    private var lastUse: ContinuousClock.Instant? = nil
    private var warmed = false
    private var refreshing = false
    /// The cache holds one idle connection (a replacement runs alone).
    private var closesOldest = false
    /// The warm-up that runs now (a caller's or keep-warm's), and the
    /// callers that asked while it ran: they share it (libcurl makes a
    /// second connection rather than wait for one still in its handshake).
    private var warmUpKey: Int? = nil
    private var warmUpRequest: HTTPRequest? = nil
    private var warmUpJoiners: [WarmJoiner] = []
    /// A caller waiting for the warm-up that runs, by its own deadline.
    private struct WarmJoiner {
        let completion: WarmCompletion
        let deadline: Deadline
    }
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

    /// Makes a connection for queued lookups, sending nothing (see
    /// TransferSlot.warm); `completion` runs once on the loop thread, by
    /// `deadline` at the latest, or, when it joined a warm-up under way,
    /// when that one (or the retry after it) ends: the caller waits by its
    /// own clock. Over HTTP/2 every queued lookup then shares it. False if
    /// the loop could not be started.
    func warm(_ request: HTTPRequest, deadline: Deadline, _ completion: @escaping WarmCompletion) -> Bool {
        var warmOnly = request
        warmOnly.warmOnly = true
        return submit(.warm(warmOnly, deadline, completion))
    }

    /// Keep-warm, on the loop thread (a timer action): once a warm-up here
    /// kept a connection, and no transfer has used one for `idleFor`, a new
    /// connection is warmed (a fresh DNS answer too). The idle one is closed
    /// as the new one is kept: libcurl would take the oldest first, the one
    /// the server may be about to close.
    func refreshIfIdle(_ request: HTTPRequest, idleFor: Duration) {
        guard warmed, !refreshing, running.isEmpty, pendingHead == pendingOrder.count, let multi = currentMulti,
              let lastUse, ContinuousClock.now - lastUse >= idleFor else { return }
        var fresh = request
        fresh.warmOnly = true
        fresh.freshConnection = true
        // A connection returned to a cache over its size closes the one
        // idle longest (libcurl's rule): the replaced one. Only while the
        // replacement is the loop's one transfer (see launch).
        _ = handoff_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, 1)
        closesOldest = true
        refreshing = true
        guard let key = launch(fresh, Deadline(milliseconds: request.timeoutMs), job: .warm(nil), multi) else {
            return refreshEnded(multi)
        }
        warmUpKey = key
        warmUpRequest = fresh
    }

    /// A replacement ended (kept, failed or out of time).
    private func refreshEnded(_ multi: UnsafeMutableRawPointer) {
        refreshing = false
        keepIdleConnections(multi)
    }

    /// The cache holds as many idle connections as before (libcurl's
    /// default, 4 per handle): once the replacement ended, or as soon as
    /// another transfer starts beside it, so that a lookup's connection is
    /// never the one closed.
    private func keepIdleConnections(_ multi: UnsafeMutableRawPointer) {
        guard closesOldest else { return }
        closesOldest = false
        _ = handoff_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, -1)
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
        currentMulti = multi
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
        warmUpJoiners.removeAll()
        warmUpRequest = nil
        idle.removeAll()
        timers.removeAll()
        currentMulti = nil
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
        let race = Race(hedge: Hedge(afterMs: 0, mayStart: { false }, sent: {}, won: {}, unspent: {}), completion: { _ in })
        timers.push(.hedge(race), due: .now)
        _ = [race.first, race.second].compactMap { $0 }
        var expired: [(transfer: CurlTransfer, reusable: Bool)] = []
        expired.removeAll()
        var joiners: [WarmJoiner] = []
        joiners.append(WarmJoiner(completion: { _, _ in }, deadline: Deadline(milliseconds: 0)))
        _ = joiners.max(by: { $0.deadline.end < $1.deadline.end })
        joiners.removeAll()
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
        case .warm(let request, let deadline, let completion):
            if let key = warmUpKey, running[key] != nil {
                warmUpJoiners.append(WarmJoiner(completion: completion, deadline: deadline))
                return
            }
            startWarmUp(request, deadline, completion, multi)
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

    /// A queued lookup's GET: hedged when it asks to be and its deadline
    /// leaves room past the hedge delay.
    private func launch(_ request: HTTPRequest, _ deadline: Deadline, _ before: Action?, _ completion: @escaping Completion,
                        _ multi: UnsafeMutableRawPointer) {
        before?()
        var plain = request
        plain.hedge = nil
        // The time left now: a lookup that waited for room has less.
        guard let hedge = request.hedge, hedge.afterMs < deadline.remainingMs else {
            if launch(plain, deadline, job: .lookup(completion), multi) == nil {
                completion(.failed("could not start the transfer", retryable: false))
            }
            return
        }
        let race = Race(hedge: hedge, completion: completion)
        guard let key = launch(plain, deadline, job: .raced(race, hedge: false), multi) else {
            return completion(.failed("could not start the transfer", retryable: false))
        }
        race.first = key
        timers.push(.hedge(race), due: ContinuousClock.now.advanced(by: .milliseconds(hedge.afterMs)))
    }

    /// Hands one transfer to libcurl, with its deadline timer; its key, or
    /// nil if no handle could take it. A warm-up's handle is its own, never
    /// one the lookups reuse (it carries the pre-request stop).
    private func launch(_ request: HTTPRequest, _ deadline: Deadline, job: Job, _ multi: UnsafeMutableRawPointer) -> Int? {
        let transfer: CurlTransfer?
        if case .warm = job {
            transfer = makeTransfer()
        } else {
            transfer = idle.popLast() ?? makeTransfer()
        }
        guard let transfer, transfer.prepare(request), curl_multi_add_handle(multi, transfer.easy) == CURLM_OK else { return nil }
        // A transfer beside a replacement: its connection could be the idle
        // one a size-1 cache closes.
        if closesOldest, !request.freshConnection { keepIdleConnections(multi) }
        tokens &+= 1
        let key = Int(bitPattern: transfer.easy)
        running[key] = Running(transfer: transfer, token: tokens, request: request, deadline: deadline, job: job)
        timers.push(.deadline(key: key, token: tokens), due: deadline.end)
        return key
    }

    private func makeTransfer() -> CurlTransfer? {
        CurlTransfer(settings: settings, headers: headers, share: share, sockets: sockets, reserveBody: false, limitsIdleAge: true)
    }

    private func finishDone(_ multi: UnsafeMutableRawPointer) {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result.rawValue
            guard let entry = running.removeValue(forKey: Int(bitPattern: easy)) else { continue }
            switch entry.job {
            case .warm(let completion):
                let outcome = entry.transfer.warmOutcome(rawCode: code)
                var kept = false
                if case .ready = outcome { kept = entry.transfer.connectionKept }
                detachWarmUp(entry.transfer, multi, ready: { if case .ready = outcome { true } else { false } }(), kept: kept)
                if kept {
                    warmed = true
                    lastUse = .now
                }
                if completion == nil {
                    // A replacement that failed waits a whole idle spell to try again.
                    refreshEnded(multi)
                    lastUse = .now
                }
                warmUpEnded(completion, outcome, kept, multi)
            case .lookup(let completion):
                let outcome = entry.transfer.outcome(rawCode: code)
                release(entry.transfer, multi)
                lastUse = .now
                completion(outcome)
            case .raced(let race, let isHedge):
                let outcome = entry.transfer.outcome(rawCode: code)
                release(entry.transfer, multi)
                lastUse = .now
                settle(race, hedge: isHedge, outcome, multi)
            }
        }
    }

    private func startWarmUp(_ request: HTTPRequest, _ deadline: Deadline, _ completion: @escaping WarmCompletion,
                             _ multi: UnsafeMutableRawPointer) {
        guard let key = launch(request, deadline, job: .warm(completion), multi) else {
            return completion(.failed("could not start the warm-up's transfer"), false)
        }
        warmUpKey = key
        warmUpRequest = request
    }

    /// The warm-up that ran ended: its caller's completion (none for
    /// keep-warm's) and those of the callers that joined it. Joiners whose
    /// own deadline is later than the one that ran out try again together.
    private func warmUpEnded(_ completion: WarmCompletion?, _ outcome: WarmOutcome, _ kept: Bool,
                             _ multi: UnsafeMutableRawPointer) {
        let joiners = warmUpJoiners
        let request = warmUpRequest
        warmUpKey = nil
        warmUpRequest = nil
        warmUpJoiners.removeAll()
        completion?(outcome, kept)
        // Keep-warm's replacement insists on a new connection, and its
        // deadline is the connect timeout: any end of it but a kept
        // connection tells a joiner little, who then tries the usual way.
        var failed = false
        if case .timedOut = outcome { failed = true }
        if completion == nil, !kept { failed = true }
        var again: [WarmJoiner] = []
        for joiner in joiners {
            if failed, joiner.deadline.remainingMs >= Limits.minRetryAttemptMs {
                again.append(joiner)
            } else {
                joiner.completion(outcome, kept)
            }
        }
        guard let latest = again.max(by: { $0.deadline.end < $1.deadline.end }) else { return }
        guard let request else {
            for joiner in again { joiner.completion(.timedOut, false) }
            return
        }
        var retry = HTTPRequest(url: request.url, timeoutMs: latest.deadline.remainingMs)
        retry.warmOnly = true
        let waiting = again
        startWarmUp(retry, latest.deadline, { outcome, kept in
            for joiner in waiting { joiner.completion(outcome, kept) }
        }, multi)
    }

    /// One request of a race ended with `outcome`.
    private func settle(_ race: Race, hedge isHedge: Bool, _ outcome: HTTPOutcome, _ multi: UnsafeMutableRawPointer) {
        if isHedge { race.second = nil } else { race.first = nil }
        guard !race.done else { return }
        let answered = Self.isAnswer(outcome)
        if !answered, (isHedge ? race.first : race.second) != nil {
            if !isHedge { race.firstFailure = outcome }
            return
        }
        race.done = true
        if isHedge, answered { race.hedge.won() }
        cancel(race, multi)
        race.completion(isHedge && !answered ? race.firstFailure ?? outcome : outcome)
    }

    /// The other request of a race that is over: libcurl resets its stream
    /// (HTTP/2) or closes its connection (HTTP/1.1).
    private func cancel(_ race: Race, _ multi: UnsafeMutableRawPointer) {
        for key in [race.first, race.second].compactMap({ $0 }) {
            if let entry = running.removeValue(forKey: key) { release(entry.transfer, multi) }
        }
        race.first = nil
        race.second = nil
    }

    /// An HTTP answer, whatever its status: what a hedged lookup takes.
    private static func isAnswer(_ outcome: HTTPOutcome) -> Bool {
        switch outcome {
        case .response, .bodyTooLarge: true
        default: false
        }
    }

    /// Timers due now. Transfers past their deadline complete first, all of
    /// them, and are torn down after (closing a connection mid-TLS costs
    /// more than completing a lookup): with a thousand due at once, the
    /// last completion is not kept waiting behind a thousand teardowns.
    private func fireDue(_ multi: UnsafeMutableRawPointer) {
        let now = ContinuousClock.now
        var expired: [(transfer: CurlTransfer, reusable: Bool)] = []
        while let due = timers.popDue(at: now) {
            switch due {
            case .action(let action):
                action()
            case .pendingDeadline(let token):
                // Never handed to libcurl: it times out where it waited.
                pending.removeValue(forKey: token)?.completion(.timedOut)
            case .hedge(let race):
                sendHedge(race, multi)
            case .deadline(let key, let token):
                guard let entry = running[key], entry.token == token else { continue }
                running.removeValue(forKey: key)
                switch entry.job {
                case .lookup(let completion):
                    expired.append((entry.transfer, true))
                    completion(.timedOut)
                case .warm(let completion):
                    expired.append((entry.transfer, false))
                    if completion == nil {
                        refreshEnded(multi)
                        lastUse = .now
                    }
                    warmUpEnded(completion, .timedOut, false, multi)
                case .raced(let race, let isHedge):
                    expired.append((entry.transfer, true))
                    if isHedge { race.second = nil } else { race.first = nil }
                    guard !race.done else { continue }
                    race.done = true
                    for other in [race.first, race.second].compactMap({ $0 }) {
                        if let entry = running.removeValue(forKey: other) { expired.append((entry.transfer, true)) }
                    }
                    race.first = nil
                    race.second = nil
                    race.completion(.timedOut)
                }
            }
        }
        for (transfer, reusable) in expired {
            if reusable { release(transfer, multi) } else { detachWarmUp(transfer, multi, ready: false, kept: false) }
        }
    }

    /// The hedge delay passed without an answer: the second request goes
    /// out if the first still runs, the deadline leaves room, the loop has
    /// room for one more transfer and the budget (and breaker) allow it.
    private func sendHedge(_ race: Race, _ multi: UnsafeMutableRawPointer) {
        guard race.hedgeDue, !race.done, let first = race.first, let entry = running[first] else { return }
        race.hedgeDue = false
        let remaining = entry.deadline.remainingMs
        // Lookups waiting for room go first.
        guard remaining >= Limits.minHedgeMs, running.count < settings.maxConnections, pendingHead == pendingOrder.count,
              race.hedge.mayStart() else { return }
        guard let key = launch(HTTPRequest(url: entry.request.url, timeoutMs: remaining), entry.deadline,
                               job: .raced(race, hedge: true), multi) else { return race.hedge.unspent() }
        race.second = key
        race.hedge.sent()
    }

    /// Detaches a transfer and keeps it for the next request, up to the cap.
    private func release(_ transfer: CurlTransfer, _ multi: UnsafeMutableRawPointer) {
        ForkGuard.sheltered { _ = curl_multi_remove_handle(multi, transfer.easy) }
        _ = transfer.finish()
        if transfer.configured, idle.count < Limits.maxIdleConnections { idle.append(transfer) }
    }

    /// A warm-up's transfer, done: its connection counted (HTTP/2 when
    /// libcurl kept it), the handle freed.
    private func detachWarmUp(_ transfer: CurlTransfer, _ multi: UnsafeMutableRawPointer, ready: Bool, kept: Bool) {
        ForkGuard.sheltered { _ = curl_multi_remove_handle(multi, transfer.easy) }
        let version = ready ? Int(kept ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1) : nil
        _ = transfer.finish(version: version, warmedAndKept: kept)
    }

    /// Until the next timer, at most a second; with none (no transfer, no
    /// keep-warm) a minute: an idle process's thread sleeps. libcurl
    /// shortens the wait to its own timers, and a command's wakeup or a
    /// connection's data ends it at once.
    private func waitMs() -> Int32 {
        guard let due = timers.nextDue else { return Limits.idleLoopWaitMs }
        let left = due - ContinuousClock.now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        guard seconds < 1 else { return 1000 }
        return Int32(attoseconds / 1_000_000_000_000_000) + 1
    }
}
