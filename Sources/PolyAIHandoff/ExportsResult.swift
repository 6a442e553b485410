import CPolyAIHandoff
import Glibc
import HandoffCore

// The handoff_result_* functions of polyai_handoff.h. A NULL result gives
// 0, NULL or HANDOFF_INVALID_ARGUMENT, never a crash.

/// Every accessor reaches the result this way: no reference counting, since
/// a host calls some of them once per entry.
private func withResult<R>(_ handle: OpaquePointer?, _ body: (ResultHandle) -> R?) -> R? {
    Handle.with(handle, as: ResultHandle.self) { $0.flatMap(body) }
}

@c @implementation
public func handoff_result_status(_ handle: OpaquePointer?) -> handoff_status {
    withResult(handle) { $0.status.c } ?? HANDOFF_INVALID_ARGUMENT
}

@c @implementation
public func handoff_result_http_status(_ handle: OpaquePointer?) -> Int32 {
    withResult(handle) { $0.httpStatus } ?? 0
}

@c @implementation
public func handoff_result_error(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.errorPointer } ?? StaticCString.pointer("no result (NULL handoff_result)")
}

@c @implementation
public func handoff_result_conversation_id(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.conversationIDPointer }
}

@c @implementation
public func handoff_result_shared_id(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.sharedIDPointer }
}

@c @implementation
public func handoff_result_count(_ handle: OpaquePointer?) -> Int {
    withResult(handle) { $0.count } ?? 0
}

@c @implementation
public func handoff_result_key(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.key(index) }
}

@c @implementation
public func handoff_result_value(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.value(index) }
}

@c @implementation
public func handoff_result_get(_ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let key else { return nil }
    return withResult(handle) { result in
        for index in 0..<result.count {
            if let candidate = result.key(index), strcmp(candidate, key) == 0 { return result.value(index) }
        }
        return nil
    }
}

@c @implementation
public func handoff_result_data_json(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.dataJSONPointer }
}

@c @implementation
public func handoff_result_truncated(_ handle: OpaquePointer?) -> Int {
    withResult(handle) { $0.rendered.truncated } ?? 0
}

@c @implementation
public func handoff_result_header_name(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.rendered.headerName(index) }
}

@c @implementation
public func handoff_result_variable_name(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.rendered.variableName(index) }
}

@c @implementation
public func handoff_result_header_block(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.rendered.headerBlockPointer }
}

@c @implementation
public func handoff_result_variables_block(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    withResult(handle) { $0.rendered.variablesBlockPointer }
}

@c @implementation
public func handoff_result_elapsed_us(_ handle: OpaquePointer?) -> Int64 {
    withResult(handle) { $0.elapsedUs } ?? 0
}

@c @implementation
public func handoff_result_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: ResultHandle.self)
}
