/// The body of `POST /v1/conversations/dni-reservation`:
/// `{"attributes": {"shared_id": "…", …}}`. Read with the fixtures' reader,
/// so the attributes keep their order, escapes and number lexemes for the
/// inspection endpoint and the agent's `data`.
struct ReservationRequest {
    /// Always an object, exactly as received.
    let attributes: RawJSON
    /// `attributes.shared_id`; the API does not require one.
    let sharedID: RawString?

    enum Refusal: Error {
        case notJSON
        case noAttributes
        case badSharedID

        var message: String {
            switch self {
            case .notJSON: "Request body is not valid JSON"
            case .noAttributes: "attributes is required and must be an object"
            case .badSharedID: "attributes.shared_id must be a non-empty string"
            }
        }
    }

    /// With a repeated key, the last one counts, as in most JSON parsers.
    static func parse(_ bytes: [UInt8]) throws(Refusal) -> ReservationRequest {
        let document: RawJSON
        do {
            document = try RawJSONReader.parse(bytes)
        } catch {
            throw .notJSON
        }
        guard case .object(let members) = document,
              let attributes = members.last(where: { $0.key.value == "attributes" })?.value,
              case .object(let fields) = attributes
        else { throw .noAttributes }
        guard let value = fields.last(where: { $0.key.value == "shared_id" })?.value else {
            return ReservationRequest(attributes: attributes, sharedID: nil)
        }
        guard case .string(let sharedID) = value, !sharedID.value.isEmpty else { throw .badSharedID }
        return ReservationRequest(attributes: attributes, sharedID: sharedID)
    }
}
