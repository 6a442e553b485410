import CPolyAIHandoff
import HandoffCore

// The handoff_config_* functions of polyai_handoff.h.

@c @implementation
public func handoff_config_new() -> OpaquePointer? {
    Handle.retain(ConfigHandle())
}

@c @implementation
public func handoff_config_set(_ config: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: UnsafePointer<CChar>?) -> handoff_status {
    guard let handle = Handle.borrow(config, as: ConfigHandle.self) else { return HANDOFF_INVALID_ARGUMENT }
    guard let key, let value else {
        handle.recordError("handoff_config_set: key and value must not be NULL")
        return HANDOFF_INVALID_ARGUMENT
    }
    let keyText = CallerText.string(key)
    let valueText = CallerText.string(value)
    return handle.update { (config: inout HandoffConfig) throws(ConfigError) in try config.set(keyText, valueText) }.c
}

@c @implementation
public func handoff_config_load_file(_ config: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> handoff_status {
    guard let handle = Handle.borrow(config, as: ConfigHandle.self) else { return HANDOFF_INVALID_ARGUMENT }
    guard let path else {
        handle.recordError("handoff_config_load_file: path must not be NULL")
        return HANDOFF_INVALID_ARGUMENT
    }
    let pathText = CallerText.string(path)
    return handle.update { (config: inout HandoffConfig) throws(ConfigError) in
        try config.apply(ConfigSources.readFile(path: pathText))
    }.c
}

@c @implementation
public func handoff_config_load_env(_ config: OpaquePointer?) -> handoff_status {
    guard let handle = Handle.borrow(config, as: ConfigHandle.self) else { return HANDOFF_INVALID_ARGUMENT }
    let settings = ConfigSources.environment(ConfigSources.processEnvironment())
    return handle.update { (config: inout HandoffConfig) throws(ConfigError) in try config.apply(settings) }.c
}

@c @implementation
public func handoff_config_error(_ config: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let handle = Handle.borrow(config, as: ConfigHandle.self) else {
        return StaticCString.pointer("no configuration (NULL handoff_config)")
    }
    return handle.errorPointer
}

@c @implementation
public func handoff_config_free(_ config: OpaquePointer?) {
    Handle.release(config, as: ConfigHandle.self)
}
