/// Builds handoff_state URLs. The path prefix is encoded once per client; only
/// the id is encoded per lookup.
struct RequestURL: Sendable {
    let prefix: String

    init(base: BaseURL, accountID: String, projectID: String) {
        prefix = base.text + "/v1/" + Self.percentEncoded(accountID) + "/" + Self.percentEncoded(projectID) + "/handoff_state?"
    }

    /// POST /v1/conversations/dni-reservation: no account or project in
    /// the path, the agent is the one linked to the key.
    static func reservation(base: BaseURL) -> String {
        base.text + "/v1/conversations/dni-reservation"
    }

    func url(for target: LookupTarget) -> String {
        let (parameter, id) = switch target {
        case .sharedID(let id): ("shared_id=", id)
        case .conversationID(let id): ("id=", id)
        }
        var url = prefix
        url.reserveCapacity(prefix.utf8.count + parameter.utf8.count + id.utf8.count * 3)
        url += parameter
        url += Self.percentEncoded(id)
        return url
    }

    /// RFC 3986: everything but the unreserved characters as %XX, so an id can
    /// never add a query parameter or change the path.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
