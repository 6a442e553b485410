/// One extra response header from a fixture. Checked at load time because a
/// CR or LF here would split the response, and NIO would refuse it mid-test.
struct HeaderField: Sendable {
    let name: String
    let value: String

    static func parseList(_ value: RawJSON, at path: String) throws(FixtureError) -> [HeaderField] {
        guard case .object(let members) = value else {
            throw FixtureError(path, "expected an object of header names to strings, found \(value.kind)")
        }
        var fields: [HeaderField] = []
        for member in members {
            let name = member.key.value
            let fieldPath = "\(path).\(name)"
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                throw FixtureError(fieldPath, "not a valid HTTP header name")
            }
            let text = try member.value.string(at: fieldPath).value
            guard !text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else {
                throw FixtureError(fieldPath, "header values must not contain control characters")
            }
            fields.append(HeaderField(name: name, value: text))
        }
        return fields
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
