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
    /// The data entries, in document order, safe and bounded.
    public let flat: FlatEntries
    /// The conversation and shared ids cut to `Limits.maxIDBytes` (0 to 2).
    let idsCut: Int
    let dataSource: DataSource
    /// A copy, not a reference to the client's: with the default options it
    /// holds only immortal empty collections and inline strings, so results
    /// made on many threads at once write no shared reference count.
    public let options: RenderOptions
    /// How long the lookup took; set by the client once it is done.
    public var elapsedUs: Int64 = 0

    /// The data entries as strings.
    public var entries: [HandoffPair] { flat.pairs }

    /// The meta entries every result has: handoff_status, then
    /// conversation_id and shared_id when known. Never cut by
    /// max_value_bytes: a dialplan branches on them.
    public var meta: [HandoffPair] {
        var meta = [HandoffPair(key: "handoff_status", value: status.nameString)]
        if let conversationID { meta.append(HandoffPair(key: "conversation_id", value: conversationID)) }
        if let sharedID { meta.append(HandoffPair(key: "shared_id", value: sharedID)) }
        return meta
    }

    /// Entries include/exclude keep that max_entries/max_depth dropped, keys
    /// and values cut to their bounds, and ids cut: each one.
    public var truncatedBeforeRendering: Int { flat.dropped + flat.cut + idsCut }

    /// The data object (parsed again from the body, when it came from one).
    public var data: JSONValue { dataSource.value }

    /// The data object as compact JSON, numbers as written.
    public var dataJSON: String { CompactJSON.string(data) }

    /// Header and variable names and both blocks. Deterministic: the same
    /// result always renders the same.
    public func rendered() -> RenderedResult { Renderer(options: options).render(self) }
}

/// Where a result's `data` object comes from: a value, or the 200 body it
/// was flattened from, kept so that it is parsed again only if asked for.
enum DataSource: Sendable {
    case value(JSONValue)
    case body([UInt8])

    var value: JSONValue {
        switch self {
        case .value(let value): value
        case .body(let body): (try? JSONDecoder.decode(body))?["data"] ?? .object([])
        }
    }
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
    /// What handoff_result_truncated returns: `truncatedBeforeRendering` plus
    /// each line, meta or data, left out of the header block.
    public let truncated: Int

    public subscript<T>(dynamicMember path: KeyPath<HandoffResult, T>) -> T { result[keyPath: path] }
}
