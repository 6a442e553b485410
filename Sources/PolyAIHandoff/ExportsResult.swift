import CPolyAIHandoff
import Glibc
import HandoffCore

// The handoff_result_* functions of polyai_handoff.h. A NULL result gives
// 0, NULL or HANDOFF_INVALID_ARGUMENT, never a crash.

private func result(_ handle: OpaquePointer?) -> ResultHandle? {
    Handle.borrow(handle, as: ResultHandle.self)
}

@c @implementation
public func handoff_result_status(_ handle: OpaquePointer?) -> handoff_status {
    result(handle)?.status.c ?? HANDOFF_INVALID_ARGUMENT
}

@c @implementation
public func handoff_result_http_status(_ handle: OpaquePointer?) -> Int32 {
    result(handle)?.httpStatus ?? 0
}

@c @implementation
public func handoff_result_error(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let result = result(handle) else { return StaticCString.pointer("no result (NULL handoff_result)") }
    return result.string(result.error)
}

@c @implementation
public func handoff_result_conversation_id(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    result(handle).flatMap { $0.string($0.conversationID) }
}

@c @implementation
public func handoff_result_shared_id(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    result(handle).flatMap { $0.string($0.sharedID) }
}

@c @implementation
public func handoff_result_count(_ handle: OpaquePointer?) -> Int {
    result(handle)?.entries.count ?? 0
}

@c @implementation
public func handoff_result_key(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    guard let result = result(handle), let entry = result.entry(index) else { return nil }
    return result.string(entry.key)
}

@c @implementation
public func handoff_result_value(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    guard let result = result(handle), let entry = result.entry(index) else { return nil }
    return result.string(entry.value)
}

@c @implementation
public func handoff_result_get(_ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let result = result(handle), let key else { return nil }
    for entry in result.entries {
        if let candidate = result.string(entry.key), strcmp(candidate, key) == 0 { return result.string(entry.value) }
    }
    return nil
}

@c @implementation
public func handoff_result_data_json(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    result(handle).flatMap { $0.string($0.dataJSON) }
}

@c @implementation
public func handoff_result_truncated(_ handle: OpaquePointer?) -> Int {
    result(handle)?.truncated ?? 0
}

@c @implementation
public func handoff_result_header_name(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    guard let result = result(handle), let entry = result.entry(index) else { return nil }
    return result.string(entry.headerName)
}

@c @implementation
public func handoff_result_variable_name(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    guard let result = result(handle), let entry = result.entry(index) else { return nil }
    return result.string(entry.variableName)
}

@c @implementation
public func handoff_result_header_block(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    result(handle).flatMap { $0.string($0.headerBlock) }
}

@c @implementation
public func handoff_result_variables_block(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    result(handle).flatMap { $0.string($0.variablesBlock) }
}

@c @implementation
public func handoff_result_elapsed_us(_ handle: OpaquePointer?) -> Int64 {
    result(handle)?.elapsedUs ?? 0
}

@c @implementation
public func handoff_result_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: ResultHandle.self)
}
