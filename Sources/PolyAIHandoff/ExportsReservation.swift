import CPolyAIHandoff
import HandoffCore

// DNI reservations and the attributes builder of polyai_handoff.h.

/// A reservation as C sees it: its strings owned, stable until it is freed.
final class ReservationHandle: Sendable {
    let reservation: DNIReservation
    let dni: OwnedCString?
    let error: OwnedCString

    init(_ reservation: DNIReservation) {
        self.reservation = reservation
        dni = reservation.dni.map(OwnedCString.init)
        error = OwnedCString(reservation.errorMessage)
    }
}

/// A builder being edited, with the JSON and error last handed out.
final class AttributesHandle: @unchecked Sendable {
    // @unchecked: edited by one thread at a time, as the header says.
    var builder = AttributesBuilder()
    var json = OwnedCString("{}")
    var error = OwnedCString("")
}

@c @implementation
public func handoff_client_reserve_dni(_ client: OpaquePointer?, _ sharedID: UnsafePointer<CChar>?,
                                       _ attributesJSON: UnsafePointer<CChar>?, _ timeoutMs: Int32) -> OpaquePointer? {
    Handle.with(client, as: HandoffClient.self) { reserve($0, sharedID, attributesJSON, Int(timeoutMs), missing: .invalidArgument) }
}

@c @implementation
public func handoff_reserve_dni(_ sharedID: UnsafePointer<CChar>?, _ attributesJSON: UnsafePointer<CChar>?) -> OpaquePointer? {
    reserve(ProcessClient.current, sharedID, attributesJSON, 0, missing: .notInitialized)
}

@c @implementation
public func handoff_reservation_status(_ reservation: OpaquePointer?) -> handoff_status {
    Handle.with(reservation, as: ReservationHandle.self) {
        handoff_status(rawValue: ($0?.reservation.status ?? .invalidArgument).rawValue)
    }
}

@c @implementation
public func handoff_reservation_dni(_ reservation: OpaquePointer?) -> UnsafePointer<CChar>? {
    Handle.with(reservation, as: ReservationHandle.self) { $0?.dni.map { UnsafePointer($0.pointer) } }
}

@c @implementation
public func handoff_reservation_error(_ reservation: OpaquePointer?) -> UnsafePointer<CChar>? {
    Handle.with(reservation, as: ReservationHandle.self) {
        $0.map { UnsafePointer($0.error.pointer) } ?? StaticCString.pointer("no reservation (NULL handoff_reservation)")
    }
}

@c @implementation
public func handoff_reservation_http_status(_ reservation: OpaquePointer?) -> Int32 {
    Handle.with(reservation, as: ReservationHandle.self) { Int32(clamping: $0?.reservation.httpStatus ?? 0) }
}

@c @implementation
public func handoff_reservation_elapsed_us(_ reservation: OpaquePointer?) -> Int64 {
    Handle.with(reservation, as: ReservationHandle.self) { $0?.reservation.elapsedUs ?? 0 }
}

@c @implementation
public func handoff_reservation_free(_ reservation: OpaquePointer?) {
    Handle.release(reservation, as: ReservationHandle.self)
}

@c @implementation
public func handoff_attributes_new() -> OpaquePointer? {
    Handle.retain(AttributesHandle())
}

@c @implementation
public func handoff_attributes_set(_ attributes: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: UnsafePointer<CChar>?) -> handoff_status {
    guard let handle = Handle.borrow(attributes, as: AttributesHandle.self) else { return HANDOFF_INVALID_ARGUMENT }
    guard let key, let value else {
        handle.error = OwnedCString(key == nil ? "attribute key is NULL" : "attribute value is NULL")
        return HANDOFF_INVALID_ARGUMENT
    }
    do {
        // One byte over each bound is enough to refuse it.
        try handle.builder.set(CallerText.bytes(key, limit: Limits.maxAttributeKeyBytes),
                               CallerText.bytes(value, limit: Limits.maxAttributeValueBytes))
    } catch {
        handle.error = OwnedCString(error.message)
        return HANDOFF_INVALID_ARGUMENT
    }
    handle.json = OwnedCString(handle.builder.json)
    handle.error = OwnedCString("")
    return HANDOFF_OK
}

@c @implementation
public func handoff_attributes_json(_ attributes: OpaquePointer?) -> UnsafePointer<CChar>? {
    Handle.with(attributes, as: AttributesHandle.self) { $0.map { UnsafePointer($0.json.pointer) } }
}

@c @implementation
public func handoff_attributes_error(_ attributes: OpaquePointer?) -> UnsafePointer<CChar>? {
    Handle.with(attributes, as: AttributesHandle.self) {
        $0.map { UnsafePointer($0.error.pointer) } ?? StaticCString.pointer("no attributes (NULL handoff_attributes)")
    }
}

@c @implementation
public func handoff_attributes_free(_ attributes: OpaquePointer?) {
    Handle.release(attributes, as: AttributesHandle.self)
}

private func reserve(_ client: HandoffClient?, _ sharedID: UnsafePointer<CChar>?, _ attributesJSON: UnsafePointer<CChar>?,
                     _ timeoutMs: Int, missing: HandoffStatus) -> OpaquePointer {
    guard let client else {
        let message = missing == .notInitialized
            ? "handoff_init() has not succeeded (or handoff_shutdown() was called)" : "no client (NULL handoff_client)"
        return Handle.retain(ReservationHandle(DNIReservation.refused(missing, message)))
    }
    let id = sharedID.map { CallerText.bytes($0, limit: Limits.maxIDBytes) }
    // One byte over the bound is enough to refuse it.
    let attributes = attributesJSON.map { CallerText.bytes($0, limit: Limits.maxAttributesBytes) }
    return Handle.retain(ReservationHandle(client.reserveDNI(sharedID: id, attributes: attributes, timeoutMs: timeoutMs)))
}
