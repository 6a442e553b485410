import CPolyAIHandoff
import HandoffCore

// Clients and the process-wide API of polyai_handoff.h.

@c @implementation
public func handoff_client_new(_ config: OpaquePointer?, _ statusOut: UnsafeMutablePointer<handoff_status>?) -> OpaquePointer? {
    guard let handle = Handle.borrow(config, as: ConfigHandle.self) else {
        statusOut?.pointee = HANDOFF_INVALID_ARGUMENT
        return nil
    }
    do {
        let client = try HandoffClient(config: handle.config)
        _ = ResultHandle.warmedUp
        client.warmIfConfigured()
        handle.recordSuccess()
        statusOut?.pointee = HANDOFF_OK
        return Handle.retain(client)
    } catch {
        handle.recordError(error.message)
        statusOut?.pointee = HANDOFF_INVALID_ARGUMENT
        return nil
    }
}

// The host must not free a client while it is inside a lookup on it (the
// header says so), so the handle keeps the client alive for the call.
@c @implementation
public func handoff_client_lookup(_ client: OpaquePointer?, _ sharedID: UnsafePointer<CChar>?, _ timeoutMs: Int32) -> OpaquePointer? {
    Handle.with(client, as: HandoffClient.self) { lookup($0, sharedID, .sharedID, timeoutMs, missing: .invalidArgument) }
}

@c @implementation
public func handoff_client_lookup_id(_ client: OpaquePointer?, _ conversationID: UnsafePointer<CChar>?, _ timeoutMs: Int32) -> OpaquePointer? {
    Handle.with(client, as: HandoffClient.self) { lookup($0, conversationID, .conversationID, timeoutMs, missing: .invalidArgument) }
}

@c @implementation
public func handoff_client_breaker_reset(_ client: OpaquePointer?) -> handoff_status {
    guard let client = Handle.borrow(client, as: HandoffClient.self) else { return HANDOFF_INVALID_ARGUMENT }
    client.resetBreaker()
    return HANDOFF_OK
}

@c @implementation
public func handoff_client_warm(_ client: OpaquePointer?, _ timeoutMs: Int32) -> handoff_status {
    Handle.with(client, as: HandoffClient.self) { $0?.warm(timeoutMs: Int(timeoutMs)).status.c ?? HANDOFF_INVALID_ARGUMENT }
}

@c @implementation
public func handoff_client_free(_ client: OpaquePointer?) {
    Handle.release(client, as: HandoffClient.self)
}

@c @implementation
public func handoff_init(_ configPath: UnsafePointer<CChar>?) -> handoff_status {
    let path = configPath.map(CallerText.string)
    do throws(ConfigError) {
        var config = HandoffConfig()
        if let path { try config.apply(ConfigSources.readFile(path: path)) }
        try config.apply(ConfigSources.environment(ConfigSources.processEnvironment()))
        let client = try HandoffClient(config: config)
        _ = ResultHandle.warmedUp
        client.warmIfConfigured()
        ProcessClient.install(client)
        return HANDOFF_OK
    } catch {
        ProcessClient.failInit(error.message)
        return HANDOFF_INVALID_ARGUMENT
    }
}

@c @implementation
public func handoff_init_error() -> UnsafePointer<CChar>? {
    ProcessClient.initErrorPointer
}

@c @implementation
public func handoff_lookup(_ sharedID: UnsafePointer<CChar>?) -> OpaquePointer? {
    lookup(ProcessClient.current, sharedID, .sharedID, 0, missing: .notInitialized)
}

@c @implementation
public func handoff_lookup_id(_ conversationID: UnsafePointer<CChar>?) -> OpaquePointer? {
    lookup(ProcessClient.current, conversationID, .conversationID, 0, missing: .notInitialized)
}

@c @implementation
public func handoff_shutdown() {
    ProcessClient.shutdown()
}

/// The one path every lookup takes from C.
private func lookup(_ client: HandoffClient?, _ id: UnsafePointer<CChar>?, _ kind: LookupTarget.Kind,
                    _ timeoutMs: Int32, missing: HandoffStatus) -> OpaquePointer {
    guard let client else {
        return Handle.result(missing, missing == .notInitialized
            ? "handoff_init() has not succeeded (or handoff_shutdown() was called)"
            : "no client (NULL handoff_client)")
    }
    guard let id else {
        return Handle.result(client.invalid(kind == .sharedID ? "shared_id is NULL" : "conversation id is NULL"))
    }
    return Handle.result(client.lookup(CallerText.bytes(id, limit: Limits.maxIDBytes), as: kind, timeoutMs: Int(timeoutMs)))
}
