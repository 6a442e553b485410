/// The fixture file's optional `dni_reservation` object: what
/// `POST /v1/conversations/dni-reservation` serves. See docs/sandbox.md.
struct DNIReservationFixture: Sendable {
    /// The only key reservations accept; the file's `api_key` when not given.
    let apiKey: String
    /// The numbers handed out, in this order of preference.
    let pool: [RawString]
    /// How long a reservation holds its number.
    let expireMs: Int
    let agent: Agent?
    let faults: [FaultEntry]

    static let fields: Set<String> = ["api_key", "pool", "expire_ms", "agent", "faults", "note"]
    static let defaultExpireMs = 60_000
    static let maxExpireMs = 86_400_000

    /// The sandbox playing the agent: what it adds to a called reservation's
    /// attributes, and when it calls by itself.
    struct Agent: Sendable {
        /// The members of `agent.data`; they win over attributes of the same name.
        let data: [RawMember]
        /// When set, a reservation counts as called this long after it was made.
        let afterMs: Int?

        static let fields: Set<String> = ["data", "after_ms", "note"]
    }

    /// One `faults` entry: a `respond` applied to reservations with this shared_id.
    struct FaultEntry: Sendable {
        let sharedID: RawString
        let script: ResponseScript

        static let fields: Set<String> = ["shared_id", "respond", "note"]
    }

    static func parse(_ value: RawJSON, at path: String, defaultAPIKey: String) throws(FixtureError) -> DNIReservationFixture {
        let fields = try FieldReader(value, at: path, allowed: Self.fields)
        _ = try fields.string("note")
        let apiKey = try fields.nonEmptyString("api_key")?.value ?? defaultAPIKey
        let expireMs = try fields.value("expire_ms")?
            .integer(in: 1...Self.maxExpireMs, at: fields.fieldPath("expire_ms")) ?? Self.defaultExpireMs
        return DNIReservationFixture(
            apiKey: apiKey,
            pool: try parsePool(fields),
            expireMs: expireMs,
            agent: try parseAgent(fields, expireMs: expireMs),
            faults: try parseFaults(fields)
        )
    }

    /// Required, possibly empty (every reservation then gets the pool-exhausted answer).
    private static func parsePool(_ fields: FieldReader) throws(FixtureError) -> [RawString] {
        let path = fields.fieldPath("pool")
        guard let list = fields.value("pool") else { throw FixtureError(path, "is required") }
        guard case .array(let elements) = list else { throw FixtureError(path, "expected an array, found \(list.kind)") }
        var pool: [RawString] = []
        var seen: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            let elementPath = "\(path)[\(index)]"
            let number = try element.string(at: elementPath)
            guard !number.value.isEmpty else { throw FixtureError(elementPath, "must not be empty") }
            if let earlier = seen.updateValue(index, forKey: number.value) {
                throw FixtureError(elementPath, "\"\(number.value)\" is already \(path)[\(earlier)]")
            }
            pool.append(number)
        }
        return pool
    }

    private static func parseAgent(_ fields: FieldReader, expireMs: Int) throws(FixtureError) -> Agent? {
        guard let value = fields.value("agent") else { return nil }
        let agent = try FieldReader(value, at: fields.fieldPath("agent"), allowed: Agent.fields)
        _ = try agent.string("note")
        let data = agent.value("data") ?? .object([])
        guard case .object(let members) = data else {
            throw FixtureError(agent.fieldPath("data"), "expected an object, found \(data.kind)")
        }
        // A reservation gone before its call would never be called.
        let afterMs = try agent.value("after_ms")?.integer(in: 0...expireMs, at: agent.fieldPath("after_ms"))
        return Agent(data: members, afterMs: afterMs)
    }

    private static func parseFaults(_ fields: FieldReader) throws(FixtureError) -> [FaultEntry] {
        let path = fields.fieldPath("faults")
        guard let list = fields.value("faults") else { return [] }
        guard case .array(let elements) = list else { throw FixtureError(path, "expected an array, found \(list.kind)") }
        var entries: [FaultEntry] = []
        var seen: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            let entry = try FieldReader(element, at: "\(path)[\(index)]", allowed: FaultEntry.fields)
            _ = try entry.string("note")
            let sharedID = try entry.requiredString("shared_id")
            if let earlier = seen.updateValue(index, forKey: sharedID.value) {
                throw FixtureError(entry.fieldPath("shared_id"), "\"\(sharedID.value)\" is already used by \(path)[\(earlier)]")
            }
            guard let respond = entry.value("respond") else { throw FixtureError(entry.fieldPath("respond"), "is required") }
            entries.append(FaultEntry(sharedID: sharedID, script: try ResponseScript.parse(respond, at: entry.fieldPath("respond"))))
        }
        return entries
    }
}
