/// Builds a reservation's attributes from key/value pairs, so that a
/// dialplan never builds JSON by pasting strings together (the values come
/// from caller-controlled headers: pasted, `"` or `}` would inject). Every
/// value is a JSON string, escaped by the writer; a dotted key nests
/// ("customer.tier" = "gold" gives {"customer": {"tier": "gold"}}). Keys
/// keep the order they were first set in; setting a key again replaces its
/// value.
public struct AttributesBuilder: Sendable {
    private indirect enum Node: Sendable {
        case value(String)
        case object([(key: String, node: Node)])
    }

    private var members: [(key: String, node: Node)] = []
    private var count = 0

    public init() {}

    /// Refused, changing nothing: a key that is empty, has an empty part
    /// ("a..b"), is over `Limits.maxAttributeKeyBytes`, is nested deeper
    /// than `Limits.maxAttributeKeyParts`, is not UTF-8 or holds control
    /// characters; a value over `Limits.maxAttributeValueBytes` or not UTF-8;
    /// a key that would put keys inside a value or replace keys with one;
    /// more than `Limits.maxAttributes` values.
    public mutating func set(_ key: [UInt8], _ value: [UInt8]) throws(LookupError) {
        guard !key.isEmpty, key.count <= Limits.maxAttributeKeyBytes else {
            throw LookupError("attribute key must be 1 to \(Limits.maxAttributeKeyBytes) bytes")
        }
        guard let keyText = String(validating: key, as: UTF8.self), !keyText.unicodeScalars.contains(where: SafeText.isUnsafe) else {
            throw LookupError("attribute key must be UTF-8 without control characters")
        }
        let parts = key.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard !parts.contains(where: \.isEmpty) else { throw LookupError("attribute key \(TextRules.quoted(keyText)) has an empty part") }
        guard parts.count <= Limits.maxAttributeKeyParts else {
            throw LookupError("attribute key \(TextRules.quoted(keyText)) nests deeper than \(Limits.maxAttributeKeyParts) levels")
        }
        guard value.count <= Limits.maxAttributeValueBytes else {
            throw LookupError("attribute \(TextRules.quoted(keyText)): value longer than \(Limits.maxAttributeValueBytes) bytes")
        }
        guard let valueText = String(validating: value, as: UTF8.self) else {
            throw LookupError("attribute \(TextRules.quoted(keyText)): value is not valid UTF-8")
        }
        let names = parts.map { String(decoding: $0, as: UTF8.self) }
        var copy = members
        let added = try Self.insert(valueText, at: names[...], into: &copy, key: keyText)
        guard !added || count < Limits.maxAttributes else { throw LookupError("more than \(Limits.maxAttributes) attributes") }
        members = copy
        if added { count += 1 }
    }

    /// The attributes as a compact JSON object; "{}" when none is set.
    public var json: String {
        var out: [UInt8] = []
        Self.write(.object(members), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// True when a new value was added (not replaced).
    private static func insert(_ value: String, at path: ArraySlice<String>, into members: inout [(key: String, node: Node)],
                               key: String) throws(LookupError) -> Bool {
        guard let name = path.first else { return false }
        let index = members.firstIndex { $0.key == name }
        if path.count == 1 {
            if let index {
                guard case .value = members[index].node else {
                    throw LookupError("attribute \(TextRules.quoted(key)) already holds keys; it cannot become a value")
                }
                members[index].node = .value(value)
                return false
            }
            members.append((name, .value(value)))
            return true
        }
        var children: [(key: String, node: Node)] = []
        if let index {
            guard case .object(let existing) = members[index].node else {
                throw LookupError("attribute \(TextRules.quoted(key)): \(TextRules.quoted(name)) is already a value")
            }
            children = existing
        }
        let added = try insert(value, at: path.dropFirst(), into: &children, key: key)
        if let index { members[index].node = .object(children) } else { members.append((name, .object(children))) }
        return added
    }

    private static func write(_ node: Node, to out: inout [UInt8]) {
        switch node {
        case .value(let text):
            CompactJSON.writeString(text, to: &out)
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                CompactJSON.writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.node, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
