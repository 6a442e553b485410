/// A JSON value exactly as the fixture file spells it. Objects keep their
/// order (and any repeated keys), numbers keep their lexeme and strings keep
/// their escapes, so `data` goes out byte-identical to what was written:
/// `1234.50`, `1e400` and `"a\u0000b"` survive, which a Double or a
/// re-escaping serializer would not.
indirect enum RawJSON: Sendable {
    case object([RawMember])
    case array([RawJSON])
    case string(RawString)
    /// The lexeme as written, e.g. "9223372036854775807" or "6.02E23".
    case number(String)
    case bool(Bool)
    case null

    /// The value in compact form: no whitespace between tokens, every
    /// lexeme and escape as the source had it.
    func write(into out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                member.key.write(into: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let string):
            string.write(into: &out)
        case .number(let lexeme):
            out.append(contentsOf: lexeme.utf8)
        case .bool(let value):
            out.append(contentsOf: (value ? "true" : "false").utf8)
        case .null:
            out.append(contentsOf: "null".utf8)
        }
    }

    /// A short name for error messages.
    var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

struct RawMember: Sendable {
    let key: RawString
    let value: RawJSON
}

/// A string literal in two forms: as written between the quotes (for
/// re-emitting) and decoded (for comparing ids and keys).
struct RawString: Sendable {
    /// The bytes between the quotes, escapes untouched.
    let escaped: String
    let value: String

    func write(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: escaped.utf8)
        out.append(UInt8(ascii: "\""))
    }
}
