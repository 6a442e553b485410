/// One flattened data entry: the key and its safe value.
public struct HandoffPair: Sendable, Equatable {
    public let key: String
    public let value: String
}

/// Everything a lookup produced, immutable. Names and blocks are not built
/// here but by `rendered()`, on demand: a host that reads only keys and
/// values never pays for them.
public struct HandoffResult: Sendable {
    public let status: HandoffStatus
    /// 0 when no response arrived.
    public let httpStatus: Int
    /// "" on success.
    public let errorMessage: String
    public let conversationID: String?
    public let sharedID: String?
    /// The data entries, in document order.
    public let entries: [HandoffPair]
    /// The meta entries (handoff_status, conversation_id, shared_id when known).
    public let meta: [HandoffPair]
    /// The data object as parsed; see `dataJSON`.
    public let data: JSONValue
    /// Entries dropped by max_entries/max_depth or cut by max_value_bytes.
    public let truncatedBeforeRendering: Int
    let options: RenderOptions
    /// How long the lookup took; set by the client once it is done.
    public var elapsedUs: Int64 = 0

    /// The data object as compact JSON, numbers as written.
    public var dataJSON: String { CompactJSON.string(data) }

    /// Header and variable names and both blocks. Deterministic: the same
    /// result always renders the same.
    public func rendered() -> RenderedResult { Renderer(options: options).render(self) }
}

/// A data entry with both of its names.
public struct HandoffEntry: Sendable, Equatable {
    public let key: String
    public let value: String
    public let headerName: String
    public let variableName: String
}

/// A result with its names and blocks; every field of the result is also
/// readable here.
@dynamicMemberLookup
public struct RenderedResult: Sendable {
    public let result: HandoffResult
    public let entries: [HandoffEntry]
    public let headerBlock: String
    public let variablesBlock: String
    /// Everything dropped or cut, including data lines left out of the header block.
    public let truncated: Int

    public subscript<T>(dynamicMember path: KeyPath<HandoffResult, T>) -> T { result[keyPath: path] }
}
