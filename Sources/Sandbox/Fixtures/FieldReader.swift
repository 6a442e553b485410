/// Reads the named fields of one fixture object. Repeated and unknown keys
/// are errors rather than silently ignored, so a typo such as `dealy_ms`
/// fails loudly instead of quietly testing nothing.
struct FieldReader {
    let path: String
    private let fields: [String: RawJSON]

    init(_ value: RawJSON, at path: String, allowed: Set<String>) throws(FixtureError) {
        guard case .object(let members) = value else {
            throw FixtureError(path, "expected an object, found \(value.kind)")
        }
        var fields: [String: RawJSON] = [:]
        for member in members {
            let key = member.key.value
            guard allowed.contains(key) else {
                throw FixtureError(path, "unknown field \"\(key)\" (expected one of: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard fields.updateValue(member.value, forKey: key) == nil else {
                throw FixtureError(path, "field \"\(key)\" appears twice")
            }
        }
        self.path = path
        self.fields = fields
    }

    /// Field names present, in no particular order.
    var keys: Dictionary<String, RawJSON>.Keys { fields.keys }

    func value(_ key: String) -> RawJSON? { fields[key] }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func string(_ key: String) throws(FixtureError) -> RawString? {
        guard let value = fields[key] else { return nil }
        guard case .string(let string) = value else {
            throw FixtureError(fieldPath(key), "expected a string, found \(value.kind)")
        }
        return string
    }

    /// A string that must be present and non-empty.
    func requiredString(_ key: String) throws(FixtureError) -> RawString {
        guard let string = try string(key) else { throw FixtureError(fieldPath(key), "is required") }
        guard !string.value.isEmpty else { throw FixtureError(fieldPath(key), "must not be empty") }
        return string
    }

    /// An optional string that, when present, must be non-empty.
    func nonEmptyString(_ key: String) throws(FixtureError) -> RawString? {
        guard let string = try string(key) else { return nil }
        guard !string.value.isEmpty else { throw FixtureError(fieldPath(key), "must not be empty") }
        return string
    }
}

extension RawJSON {
    /// A whole number written without fraction or exponent, within `range`.
    func integer(in range: ClosedRange<Int>, at path: String) throws(FixtureError) -> Int {
        guard case .number(let lexeme) = self else {
            throw FixtureError(path, "expected a whole number, found \(kind)")
        }
        guard let number = Int(lexeme) else {
            throw FixtureError(path, "expected a whole number, found \(lexeme)")
        }
        guard range.contains(number) else {
            throw FixtureError(path, "\(number) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func boolean(at path: String) throws(FixtureError) -> Bool {
        guard case .bool(let value) = self else { throw FixtureError(path, "expected true or false, found \(kind)") }
        return value
    }

    func string(at path: String) throws(FixtureError) -> RawString {
        guard case .string(let value) = self else { throw FixtureError(path, "expected a string, found \(kind)") }
        return value
    }
}
