/// One entry of the fixture file's `handoffs` array.
struct HandoffFixture: Sendable {
    let id: RawString
    let sharedID: RawString?
    /// Always an object; `{}` when the entry has none (fault-only entries).
    let data: RawJSON
    let script: ResponseScript

    static let fields: Set<String> = ["id", "shared_id", "data", "respond", "note"]

    static func parse(_ value: RawJSON, at path: String) throws(FixtureError) -> HandoffFixture {
        let fields = try FieldReader(value, at: path, allowed: Self.fields)
        _ = try fields.string("note")
        let data = fields.value("data") ?? .object([])
        guard case .object = data else {
            throw FixtureError(fields.fieldPath("data"), "expected an object, found \(data.kind)")
        }
        return HandoffFixture(
            id: try fields.requiredString("id"),
            sharedID: try fields.nonEmptyString("shared_id"),
            data: data,
            script: try ResponseScript.parse(fields.value("respond"), at: fields.fieldPath("respond"))
        )
    }

    /// The 200 body, `{"id":…,"shared_id":…,"data":…}`, with every string
    /// and number as the fixture wrote it. `padding` > 0 appends a
    /// `"padding"` member of that many 'x' to `data`.
    func body(padding: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + padding)
        out.append(contentsOf: "{\"id\":".utf8)
        id.write(into: &out)
        if let sharedID {
            out.append(contentsOf: ",\"shared_id\":".utf8)
            sharedID.write(into: &out)
        }
        out.append(contentsOf: ",\"data\":".utf8)
        if padding > 0, case .object(var members) = data {
            let filler = String(repeating: "x", count: padding)
            members.append(RawMember(key: RawString(escaped: "padding", value: "padding"), value: .string(RawString(escaped: filler, value: filler))))
            RawJSON.object(members).write(into: &out)
        } else {
            data.write(into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
