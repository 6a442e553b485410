/// Lookups that never block the caller. A host submits a lookup with a tag
/// and goes on; the library's I/O thread does the work; the completion
/// waits here, and the queue's descriptor is readable, until the host takes
/// it with `next()`, on a thread of its own.
///
/// Every admitted lookup completes exactly once: with its answer, by its
/// deadline, or cancelled. Log lines of queued lookups wait here too and
/// reach the host's log callback inside `next()`, never on a library
/// thread (Kamailio's logging is not thread safe).
///
/// A queue belongs to the process that made it. In a forked child it
/// admits nothing, has no descriptor, and `close()` only closes the child's
/// copy of the descriptor.
public final class LookupQueue: Sendable {
    public let client: HandoffClient
    private let notifier: EventNotifier
    private let generation = ForkGeneration.current

    private struct State {
        /// Completions in order; `head` is the next to take.
        var ready: [(tag: UInt64, result: HandoffResult)] = []
        var head = 0
        /// Waiting lookups by their serial number, and the serials of each
        /// tag (tags may repeat: cancel and delivery stay O(1) a lookup).
        var waiting: [UInt64: QueuedLookup] = [:]
        var byTag: [UInt64: Set<UInt64>] = [:]
        var serials: UInt64 = 0
        var waitingCount: Int { waiting.count }
        var logs: [(level: LogLevel, text: String)] = []
        var droppedLogs = 0
        var closed = false

        var readyCount: Int { ready.count - head }
        var held: Int { waitingCount + readyCount }
    }

    private let state = Locked(State())

    /// nil if no descriptor could be made (errno says why). `announced`:
    /// the client learns that this process queues lookups, and warms the
    /// I/O thread's connection with its slots (PathWarmUp's own queue is not).
    public init?(client: HandoffClient, announced: Bool = true) {
        guard let notifier = EventNotifier() else { return nil }
        self.client = client
        self.notifier = notifier
        if announced { client.queueMade() }
    }

    public var belongsToThisProcess: Bool { ForkGeneration.current == generation }

    /// Readable while a completion waits; -1 in another process.
    public var descriptor: Int32 { belongsToThisProcess ? notifier.fd : -1 }

    /// Submits a lookup of raw caller bytes. `.ok`: exactly one completion
    /// with `tag` will be ready by the deadline (at once for a refused id,
    /// a cache hit or a fast failure). Otherwise nothing was admitted:
    /// `.invalidArgument` in another process or once closed, `.unavailable`
    /// when the queue already holds `Limits.maxQueuedLookups`.
    /// A nil id (C's NULL) is refused like an empty one. `quietly`: not
    /// counted or logged (the warm-up's own lookup).
    public func lookup(_ id: [UInt8]?, as kind: LookupTarget.Kind, timeoutMs: Int?, tag: UInt64, quietly: Bool = false) -> HandoffStatus {
        let started = ContinuousClock.now
        guard belongsToThisProcess else { return .invalidArgument }
        guard client.url != nil else { return readyAtOnce(tag) { client.refused(HandoffClient.noLookupsRefusal, logTo: self) } }
        guard let id else {
            let message = "\(kind.parameter) is NULL"
            return readyAtOnce(tag) { quietly ? client.invalid(message) : client.refused(message, logTo: self) }
        }
        let target: LookupTarget
        switch LookupTarget.validated(id, as: kind) {
        case .failure(let error):
            return readyAtOnce(tag) { client.refused(error.message, logTo: self) }
        case .success(let valid):
            target = valid
        }
        guard let timeout = client.effectiveTimeout(timeoutMs) else {
            return readyAtOnce(tag) { client.refused(HandoffClient.timeoutRefusal(timeoutMs), logTo: self) }
        }
        let lookup = QueuedLookup(target, tag: tag, queue: self, timeoutMs: timeout, started: started)
        let admitted = state.withLock { state -> HandoffStatus in
            guard !state.closed else { return .invalidArgument }
            guard state.held < Limits.maxQueuedLookups else { return .unavailable }
            state.serials &+= 1
            lookup.serial = state.serials
            state.waiting[state.serials] = lookup
            state.byTag[tag, default: []].insert(state.serials)
            return .ok
        }
        guard admitted == .ok else { return admitted }
        client.runtime.withValue { lookup.begin($0) }
        return .ok
    }

    /// The next completion, or nil if none is ready. Never blocks. Log lines
    /// kept since the last call are written first, on this thread.
    public func next() -> (tag: UInt64, result: HandoffResult)? {
        guard belongsToThisProcess else { return nil }
        let (taken, logs, dropped) = state.withLock { state -> ((tag: UInt64, result: HandoffResult)?, [(level: LogLevel, text: String)], Int) in
            let logs = state.logs, dropped = state.droppedLogs
            state.logs = []
            state.droppedLogs = 0
            guard state.readyCount > 0 else { return (nil, logs, dropped) }
            let taken = state.ready[state.head]
            state.head += 1
            if state.readyCount == 0 {
                state.ready.removeAll(keepingCapacity: state.ready.count <= 1024)
                state.head = 0
                notifier.lower()
            } else if state.head >= 1024, state.head * 2 >= state.ready.count {
                state.ready.removeFirst(state.head)
                state.head = 0
            }
            return (taken, logs, dropped)
        }
        for line in logs { Log.write(line.level, line.text) }
        if dropped > 0 { Log.write(.warning, "\(dropped) log lines of queued lookups dropped (more than \(Limits.maxQueuedLogLines) between two handoff_queue_next calls)") }
        return taken
    }

    /// Completes every waiting lookup with `tag` as cancelled, at once. Work
    /// already sent goes on for other lookups of the same id (and the
    /// cache); its answer is dropped for these.
    public func cancel(tag: UInt64) {
        guard belongsToThisProcess else { return }
        let lookups = state.withLock { state in (state.byTag[tag] ?? []).compactMap { state.waiting[$0] } }
        for lookup in lookups { lookup.cancel() }
    }

    /// Cancels what waits, drops what is ready and closes the descriptor;
    /// the queue admits nothing more. In another process, only closes the
    /// descriptor (the child's copy).
    public func close() {
        guard belongsToThisProcess else {
            notifier.close()
            return
        }
        let lookups = state.withLock { state -> [QueuedLookup] in
            state.closed = true
            defer {
                state.waiting = [:]
                state.byTag = [:]
                state.ready = []
                state.head = 0
                state.logs = []
            }
            return Array(state.waiting.values)
        }
        for lookup in lookups { lookup.cancel() }
        notifier.close()
    }

    // MARK: from the lookups

    /// A completion made on the caller's thread, before anything was sent.
    private func readyAtOnce(_ tag: UInt64, _ make: () -> HandoffResult) -> HandoffStatus {
        let full = state.withLock { state -> HandoffStatus? in
            state.closed ? .invalidArgument : state.held >= Limits.maxQueuedLookups ? .unavailable : nil
        }
        if let full { return full }
        let result = make()
        state.withLock { push(tag, result, &$0) }
        return .ok
    }

    /// A lookup's one completion (it claimed it first).
    func deliver(_ lookup: QueuedLookup, _ result: HandoffResult) {
        state.withLock { state in
            guard !state.closed, state.waiting.removeValue(forKey: lookup.serial) != nil else { return }
            if state.byTag[lookup.tag]?.count == 1 {
                state.byTag.removeValue(forKey: lookup.tag)
            } else {
                state.byTag[lookup.tag]?.remove(lookup.serial)
            }
            push(lookup.tag, result, &state)
        }
    }

    private func push(_ tag: UInt64, _ result: HandoffResult, _ state: inout State) {
        guard !state.closed else { return }
        state.ready.append((tag, result))
        if state.readyCount == 1 { notifier.raise() }
    }

    /// A log line (already redacted) for the next `next()` to write.
    func keepLog(_ level: LogLevel, _ text: String) {
        state.withLock { state in
            guard !state.closed else { return }
            guard state.logs.count < Limits.maxQueuedLogLines else { return state.droppedLogs += 1 }
            state.logs.append((level, text))
        }
    }
}
