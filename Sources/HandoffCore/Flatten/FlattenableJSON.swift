/// What the flattener needs of a JSON tree, so that it walks jansson's tree
/// in place on the lookup path, and a `JSONValue` in tests and tools. Text
/// is handed over as UTF-8 bytes, valid only during the call.
protocol FlattenableJSON {
    /// Calls `body` with the entry text of a scalar (strings raw, numbers as
    /// written, true/false, "" for null) and returns true; returns false for
    /// an object or an array.
    func withScalarText(_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool
    var isObject: Bool { get }
    var isArray: Bool { get }
    /// Members in document order: name and value.
    func forEachMember(_ body: (UnsafeBufferPointer<UInt8>, Self) -> Void)
    /// Elements in order.
    func forEachElement(_ body: (Self) -> Void)
}

/// The entry texts of true, false and null.
enum ScalarText {
    static func withTrue<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T { ("true" as StaticString).withUTF8Buffer(body) }
    static func withFalse<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T { ("false" as StaticString).withUTF8Buffer(body) }
    static func withEmpty<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T { ("" as StaticString).withUTF8Buffer(body) }
}

extension JSONValue: FlattenableJSON {
    func withScalarText(_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool {
        switch self {
        case .string(var text), .number(var text): text.withUTF8(body)
        case .bool(true): ScalarText.withTrue(body)
        case .bool(false): ScalarText.withFalse(body)
        case .null: ScalarText.withEmpty(body)
        case .object, .array: return false
        }
        return true
    }

    var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    var isArray: Bool {
        if case .array = self { return true }
        return false
    }

    func forEachMember(_ body: (UnsafeBufferPointer<UInt8>, JSONValue) -> Void) {
        guard case .object(let members) = self else { return }
        for member in members {
            var name = member.key
            name.withUTF8 { body($0, member.value) }
        }
    }

    func forEachElement(_ body: (JSONValue) -> Void) {
        guard case .array(let elements) = self else { return }
        for element in elements { body(element) }
    }
}
