/// One entry of an `include` or `exclude` list: a flattened key, or a prefix
/// glob ending in `*` ("customer.*" matches "customer.tier").
public struct KeyPattern: Sendable, Equatable {
    public let text: String
    /// The key, or the prefix before the `*`, as UTF-8.
    private let bytes: [UInt8]
    private let isPrefix: Bool

    public init?(_ text: String) {
        guard !text.isEmpty, !text.dropLast().contains("*") else { return nil }
        self.text = text
        isPrefix = text.hasSuffix("*")
        bytes = Array((isPrefix ? String(text.dropLast()) : text).utf8)
    }

    public func matches(_ key: String) -> Bool {
        var key = key
        return key.withUTF8(matches)
    }

    /// The same on a key's UTF-8, as the flattener builds it.
    func matches(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if isPrefix { return key.count >= bytes.count && key.prefix(bytes.count).elementsEqual(bytes) }
        return key.elementsEqual(bytes)
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
