import CPolyAIHandoff
import HandoffCore

// Queued lookups of polyai_handoff.h: the handle is a retained LookupQueue.

@c @implementation
public func handoff_queue_new(_ client: OpaquePointer?, _ statusOut: UnsafeMutablePointer<handoff_status>?) -> OpaquePointer? {
    let owner = client == nil ? ProcessClient.current : Handle.borrow(client, as: HandoffClient.self)
    guard let owner else {
        statusOut?.pointee = HANDOFF_NOT_INITIALIZED
        return nil
    }
    guard let queue = LookupQueue(client: owner) else {
        statusOut?.pointee = HANDOFF_UNAVAILABLE
        return nil
    }
    statusOut?.pointee = HANDOFF_OK
    return Handle.retain(queue)
}

@c @implementation
public func handoff_queue_fd(_ queue: OpaquePointer?) -> Int32 {
    Handle.with(queue, as: LookupQueue.self) { $0?.descriptor ?? -1 }
}

@c @implementation
public func handoff_queue_lookup(_ queue: OpaquePointer?, _ sharedID: UnsafePointer<CChar>?, _ timeoutMs: Int32, _ tag: UInt64) -> handoff_status {
    Handle.with(queue, as: LookupQueue.self) { submit($0, sharedID, .sharedID, timeoutMs, tag) }
}

@c @implementation
public func handoff_queue_lookup_id(_ queue: OpaquePointer?, _ conversationID: UnsafePointer<CChar>?, _ timeoutMs: Int32, _ tag: UInt64) -> handoff_status {
    Handle.with(queue, as: LookupQueue.self) { submit($0, conversationID, .conversationID, timeoutMs, tag) }
}

@c @implementation
public func handoff_queue_next(_ queue: OpaquePointer?, _ tagOut: UnsafeMutablePointer<UInt64>?) -> OpaquePointer? {
    Handle.with(queue, as: LookupQueue.self) { queue -> OpaquePointer? in
        guard let (tag, result) = queue?.next() else { return nil }
        tagOut?.pointee = tag
        return Handle.result(result)
    }
}

@c @implementation
public func handoff_queue_cancel(_ queue: OpaquePointer?, _ tag: UInt64) {
    Handle.with(queue, as: LookupQueue.self) { $0?.cancel(tag: tag) }
}

@c @implementation
public func handoff_queue_free(_ queue: OpaquePointer?) {
    guard let object = Handle.borrow(queue, as: LookupQueue.self) else { return }
    object.close()
    // A parent's queue in a forked child: its lookups, loop and locks are
    // the parent's, so nothing of it is freed here.
    if !object.belongsToThisProcess { Abandoned.keep(object) }
    Handle.release(queue, as: LookupQueue.self)
}

private func submit(_ queue: LookupQueue?, _ id: UnsafePointer<CChar>?, _ kind: LookupTarget.Kind, _ timeoutMs: Int32, _ tag: UInt64) -> handoff_status {
    guard let queue else { return HANDOFF_INVALID_ARGUMENT }
    // A NULL id is a refused id: admitted, and complete at once.
    let bytes = id.map { CallerText.bytes($0, limit: Limits.maxIDBytes) }
    return handoff_status(rawValue: queue.lookup(bytes, as: kind, timeoutMs: Int(timeoutMs), tag: tag).rawValue)
}
