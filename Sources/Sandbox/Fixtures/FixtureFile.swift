/// The fixture file as parsed: the credentials the sandbox demands, the
/// handoff entries it serves and, when present, its DNI reservations. See
/// docs/sandbox.md for the format.
struct FixtureFile: Sendable {
    let apiKey: String
    /// When set, requests for any other account or project get 404.
    let accountID: String?
    let projectID: String?
    let handoffs: [HandoffFixture]
    /// nil: no `dni_reservation` object, and the reservation endpoint is an unknown path.
    let dniReservation: DNIReservationFixture?

    static let fields: Set<String> = ["api_key", "account_id", "project_id", "handoffs", "dni_reservation", "note"]

    /// Refuses anything ambiguous: two entries with one id or one shared_id
    /// would make the answer depend on file order.
    static func parse(_ bytes: [UInt8]) throws(FixtureError) -> FixtureFile {
        let document: RawJSON
        do {
            document = try RawJSONReader.parse(bytes)
        } catch {
            throw FixtureError("", "invalid JSON at \(error)")
        }
        let fields = try FieldReader(document, at: "", allowed: Self.fields)
        _ = try fields.string("note")
        let apiKey = try fields.requiredString("api_key").value
        let accountID = try fields.nonEmptyString("account_id")?.value
        let projectID = try fields.nonEmptyString("project_id")?.value
        guard let list = fields.value("handoffs") else { throw FixtureError("handoffs", "is required") }
        guard case .array(let elements) = list else {
            throw FixtureError("handoffs", "expected an array, found \(list.kind)")
        }
        var handoffs: [HandoffFixture] = []
        var seenIDs: [String: Int] = [:]
        var seenSharedIDs: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            let path = "handoffs[\(index)]"
            let entry = try HandoffFixture.parse(element, at: path)
            if let earlier = seenIDs.updateValue(index, forKey: entry.id.value) {
                throw FixtureError("\(path).id", "\"\(entry.id.value)\" is already used by handoffs[\(earlier)]")
            }
            if let sharedID = entry.sharedID?.value, let earlier = seenSharedIDs.updateValue(index, forKey: sharedID) {
                throw FixtureError("\(path).shared_id", "\"\(sharedID)\" is already used by handoffs[\(earlier)]")
            }
            handoffs.append(entry)
        }
        var dniReservation: DNIReservationFixture?
        if let value = fields.value("dni_reservation") {
            dniReservation = try DNIReservationFixture.parse(value, at: "dni_reservation", defaultAPIKey: apiKey)
        }
        return FixtureFile(
            apiKey: apiKey, accountID: accountID, projectID: projectID, handoffs: handoffs, dniReservation: dniReservation
        )
    }
}
