/// A parsed JSON document in plain Swift. Objects keep document order and
/// numbers keep the exact text the server wrote. A decoded object never
/// repeats a key: of a key the server repeated, the last value is kept at the
/// first one's place (see `JSONDecoder`). Not `indirect`: the arrays
/// already hold their elements out of line, and boxing every node cost an
/// allocation per value on every lookup.
public enum JSONValue: Sendable, Equatable {
    case object([JSONMember])
    case array([JSONValue])
    case string(String)
    /// The number's lexeme, e.g. "1.10" or "9223372036854775807".
    case number(String)
    case bool(Bool)
    case null

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }
}

public struct JSONMember: Sendable, Equatable {
    public let key: String
    public let value: JSONValue
    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}
