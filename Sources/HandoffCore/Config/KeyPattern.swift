/// One entry of an `include` or `exclude` list: a flattened key, or a prefix
/// glob ending in `*` ("customer.*" matches "customer.tier").
public struct KeyPattern: Sendable, Equatable {
    public let text: String

    public init?(_ text: String) {
        guard !text.isEmpty, !text.dropLast().contains("*") else { return nil }
        self.text = text
    }

    public func matches(_ key: String) -> Bool {
        if text.hasSuffix("*") { return key.hasPrefix(text.dropLast()) }
        return key == text
    }

    /// Parses "a, b.*, c" into patterns; nil when any part is empty or has a `*`
    /// before its end.
    static func list(_ value: String) -> [KeyPattern]? {
        var patterns: [KeyPattern] = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            guard let pattern = KeyPattern(TextRules.trimmed(String(part))) else { return nil }
            patterns.append(pattern)
        }
        return patterns
    }
}
