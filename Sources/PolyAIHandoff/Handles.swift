import HandoffCore

/// Conversions between C handles and the Swift objects behind them. A handle
/// is an object retained once when handed out and released by its *_free.
enum Handle {
    static func retain<T: AnyObject>(_ object: T) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(object).toOpaque())
    }

    static func borrow<T: AnyObject>(_ handle: OpaquePointer?, as _: T.Type) -> T? {
        guard let handle else { return nil }
        return Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// Runs `body` with the object behind a handle (nil for a NULL handle)
    /// without retaining it: the caller's handle keeps it alive for the
    /// call, and a shared client's reference count is then not a cache line
    /// every lookup thread writes.
    static func with<T: AnyObject, R>(_ handle: OpaquePointer?, as _: T.Type, _ body: (T?) -> R) -> R {
        guard let handle else { return body(nil) }
        return Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle))._withUnsafeGuaranteedRef { body($0) }
    }

    static func release<T: AnyObject>(_ handle: OpaquePointer?, as _: T.Type) {
        guard let handle else { return }
        Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release()
    }

    static func result(_ result: HandoffResult) -> OpaquePointer {
        retain(ResultHandle(result))
    }

    /// A result for a call that had no client to render it with.
    static func result(_ status: HandoffStatus, _ message: String) -> OpaquePointer {
        result(Renderer(options: RenderOptions()).result(.init(status: status, errorMessage: message)))
    }
}
