import CPolyAIHandoff
import HandoffCore

// The version and status functions of polyai_handoff.h.

@c @implementation
public func handoff_version() -> UnsafePointer<CChar>? {
    StaticCString.pointer(LibraryVersion.string)
}

@c @implementation
public func handoff_status_name(_ status: handoff_status) -> UnsafePointer<CChar>? {
    guard let known = HandoffStatus(rawValue: status.rawValue) else { return StaticCString.pointer("unknown") }
    return StaticCString.pointer(known.name)
}

extension HandoffStatus {
    var c: handoff_status { handoff_status(rawValue: rawValue) }
}
