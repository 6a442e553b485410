/// What the flattener needs of a JSON tree, so that it walks jansson's tree
/// in place on the lookup path, and a `JSONValue` in tests and tools.
protocol FlattenableJSON {
    /// The entry text of a scalar (strings raw, numbers as written,
    /// true/false, "" for null); nil for an object or array.
    var scalarText: String? { get }
    var isObject: Bool { get }
    /// Members in document order.
    func forEachMember(_ body: (String, Self) -> Void)
    /// Elements in order.
    func forEachElement(_ body: (Self) -> Void)
}

extension JSONValue: FlattenableJSON {
    var scalarText: String? {
        switch self {
        case .string(let text): text
        case .number(let lexeme): lexeme
        case .bool(let flag): flag ? "true" : "false"
        case .null: ""
        case .object, .array: nil
        }
    }

    var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    func forEachMember(_ body: (String, JSONValue) -> Void) {
        guard case .object(let members) = self else { return }
        for member in members { body(member.key, member.value) }
    }

    func forEachElement(_ body: (JSONValue) -> Void) {
        guard case .array(let elements) = self else { return }
        for element in elements { body(element) }
    }
}
