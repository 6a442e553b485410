/// One `respond` object: the faults that shape a single reply. `{}` is the
/// normal 200.
struct ResponseStep: Sendable {
    let faults: [Fault]

    static let normal = ResponseStep(faults: [])

    static func parse(_ value: RawJSON, at path: String) throws(FixtureError) -> ResponseStep {
        let fields = try FieldReader(value, at: path, allowed: Set(Fault.parsers.keys))
        var faults: [Fault] = []
        // Sorted so that faults, and so any error, come out the same every run.
        for key in fields.keys.sorted() {
            guard let parse = Fault.parsers[key], let raw = fields.value(key) else { continue }
            if let fault = try parse(raw, fields.fieldPath(key)) { faults.append(fault) }
        }
        guard faults.count(where: \.isDeliveryMode) <= 1 else {
            throw FixtureError(path, "use at most one of stall_after_headers, trickle_ms, reset and close_after_bytes")
        }
        if fields.value("body") != nil, fields.value("body_hex") != nil {
            throw FixtureError(path, "use one of body and body_hex")
        }
        if fields.value("pad_bytes") != nil, fields.value("body") != nil || fields.value("body_hex") != nil {
            throw FixtureError(path, "pad_bytes pads the handoff data, so it cannot be combined with body or body_hex")
        }
        if fields.value("echo_key") != nil, fields.value("body") != nil || fields.value("pad_bytes") != nil {
            throw FixtureError(path, "echo_key writes the body, so it cannot be combined with body or pad_bytes")
        }
        return ResponseStep(faults: faults)
    }
}

/// What an entry does on each request: one step every time, or a
/// `sequence` that advances per request and then repeats its last step.
struct ResponseScript: Sendable {
    let steps: [ResponseStep]

    static let normal = ResponseScript(steps: [.normal])

    static func parse(_ value: RawJSON?, at path: String) throws(FixtureError) -> ResponseScript {
        guard let value else { return .normal }
        guard case .object(let members) = value, members.contains(where: { $0.key.value == "sequence" }) else {
            return ResponseScript(steps: [try ResponseStep.parse(value, at: path)])
        }
        guard members.count == 1 else {
            throw FixtureError(path, "sequence cannot be combined with other fields; put them inside each step")
        }
        let fields = try FieldReader(value, at: path, allowed: ["sequence"])
        let sequencePath = fields.fieldPath("sequence")
        guard case .array(let elements) = fields.value("sequence") else {
            throw FixtureError(sequencePath, "expected an array of respond objects")
        }
        guard !elements.isEmpty else { throw FixtureError(sequencePath, "must have at least one step") }
        var steps: [ResponseStep] = []
        for (index, element) in elements.enumerated() {
            steps.append(try ResponseStep.parse(element, at: "\(sequencePath)[\(index)]"))
        }
        return ResponseScript(steps: steps)
    }
}
