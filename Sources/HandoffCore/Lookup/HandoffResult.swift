/// One flattened data entry with both of its renderings.
public struct HandoffEntry: Sendable, Equatable {
    public let key: String
    public let value: String
    public let headerName: String
    public let variableName: String
}

/// Everything a lookup produced, immutable and ready to hand to C.
public struct HandoffResult: Sendable {
    public let status: HandoffStatus
    /// 0 when no response arrived.
    public let httpStatus: Int
    /// "" on success.
    public let errorMessage: String
    public let conversationID: String?
    public let sharedID: String?
    public let entries: [HandoffEntry]
    public let dataJSON: String
    /// Entries dropped or cut by the rendering bounds.
    public let truncated: Int
    public let headerBlock: String
    public let variablesBlock: String
    /// How long the lookup took; set by the client once it is done.
    public var elapsedUs: Int64 = 0
}
