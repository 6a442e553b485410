/// The body a reservation sends: `{"attributes": {...}}`, the caller's
/// attributes object with the reservation's shared id in it.
enum ReservationAttributes {
    /// `json` nil or empty: no attributes. Refused (nothing is sent) when it
    /// is over `Limits.maxAttributesBytes`, not JSON, not an object, nested
    /// deeper than `Limits.maxAttributesDepth`, or holds another shared_id.
    static func body(sharedID: String, json: [UInt8]?) -> Result<[UInt8], LookupError> {
        var members: [JSONMember] = []
        if let json, !json.isEmpty {
            guard json.count <= Limits.maxAttributesBytes else {
                return .failure(LookupError("attributes are larger than \(Limits.maxAttributesBytes) bytes"))
            }
            // jansson's own words for a non-object ("'[' or '{' expected")
            // would not say what is wrong with an array or a string.
            let start = json.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
            guard start == UInt8(ascii: "{") else { return .failure(LookupError("attributes must be a JSON object")) }
            let value: JSONValue
            do {
                value = try JSONDecoder.decode(json, maxDepth: Limits.maxAttributesDepth)
            } catch {
                return .failure(LookupError("attributes: \(error.message)"))
            }
            guard case .object(let given) = value else {
                return .failure(LookupError("attributes must be a JSON object"))
            }
            members = given
        }
        if let index = members.firstIndex(where: { $0.key == "shared_id" }) {
            guard members[index].value == .string(sharedID) else {
                return .failure(LookupError("attributes hold a shared_id other than the reservation's"))
            }
        } else {
            members.append(JSONMember("shared_id", .string(sharedID)))
        }
        var body: [UInt8] = []
        body.reserveCapacity((json?.count ?? 0) + sharedID.utf8.count + 48)
        body.append(contentsOf: #"{"attributes":"#.utf8)
        CompactJSON.write(.object(members), to: &body)
        body.append(UInt8(ascii: "}"))
        return .success(body)
    }
}
