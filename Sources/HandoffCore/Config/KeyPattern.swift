/// One entry of an `include` or `exclude` list: a flattened key, or a prefix
/// glob ending in `*` ("customer.*" matches "customer.tier").
public struct KeyPattern: Sendable, Equatable {
    public let text: String
    /// The key, or the prefix before the `*`, as UTF-8.
    private let bytes: [UInt8]
    private let isPrefix: Bool

    /// On bytes: "*" followed by a combining mark is one Character that is
    /// not "*", yet the key it would match holds a "*" byte.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard let last = utf8.last, !utf8.dropLast().contains(UInt8(ascii: "*")) else { return nil }
        self.text = text
        isPrefix = last == UInt8(ascii: "*")
        bytes = isPrefix ? Array(utf8.dropLast()) : utf8
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
        for part in Array(value.utf8).split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            guard let pattern = KeyPattern(String(decoding: TextRules.trimmed(part), as: UTF8.self)) else { return nil }
            patterns.append(pattern)
        }
        return patterns
    }
}
