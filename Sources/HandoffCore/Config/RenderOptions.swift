/// How a result's entries are selected, bounded and named.
public struct RenderOptions: Sendable, Equatable {
    public var headerPrefix = "X-PolyAI-"
    public var variablePrefix = "POLYAI_"
    /// nil: every key.
    public var include: [KeyPattern]? = nil
    public var exclude: [KeyPattern] = []
    /// Flattened key to the name used for it, as given by `rename.<key>`.
    public var renames: [String: String] = [:]
    public var maxValueBytes = Limits.defaultMaxValueBytes
    public var maxEntries = Limits.defaultMaxEntries
    public var maxDepth = Limits.defaultMaxDepth
    public var maxHeaderBlockBytes = Limits.defaultMaxHeaderBlockBytes

    public init() {}

    func isSelected(_ key: String) -> Bool {
        var key = key
        return key.withUTF8(isSelected)
    }

    /// Whether a flattened key (its UTF-8) is kept by include and exclude.
    func isSelected(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if let include, !include.contains(where: { $0.matches(key) }) { return false }
        return !exclude.contains { $0.matches(key) }
    }
}
