/// Builds a `HandoffResult` from a lookup's outcome: flattens, bounds, names
/// and renders, so that every result, success or not, carries the meta entries
/// a dialplan branches on.
public struct Renderer: Sendable {
    public let options: RenderOptions

    public init(options: RenderOptions) { self.options = options }

    /// The outcome of a lookup before rendering.
    public struct Outcome: Sendable {
        public var status: HandoffStatus
        public var httpStatus = 0
        public var errorMessage = ""
        public var conversationID: String? = nil
        public var sharedID: String? = nil
        public var data: JSONValue = .object([])

        public init(status: HandoffStatus, httpStatus: Int = 0, errorMessage: String = "") {
            self.status = status
            self.httpStatus = httpStatus
            self.errorMessage = errorMessage
        }
    }

    public func result(_ outcome: Outcome) -> HandoffResult {
        let flat = Flattener(options: options).flatten(outcome.data)
        var truncated = flat.dropped
        var names = UniqueNames()
        let meta = metaEntries(outcome, names: &names)
        var entries: [HandoffEntry] = []
        entries.reserveCapacity(flat.pairs.count)
        for pair in flat.pairs {
            let key = SafeText.make(pair.key, maxBytes: Limits.maxGeneratedNameBytes * 4).text
            let value = SafeText.make(pair.value, maxBytes: options.maxValueBytes)
            if value.wasCut { truncated += 1 }
            let base = options.renames[pair.key]
            let header = base.map(NameStyle.token) ?? options.headerPrefix + NameStyle.headerCase(pair.key)
            let variable = base.map(NameStyle.upperSnake) ?? options.variablePrefix + NameStyle.upperSnake(pair.key)
            entries.append(HandoffEntry(
                key: key,
                value: value.text,
                headerName: names.header(header, fallback: options.headerPrefix + "Entry"),
                variableName: names.variable(variable, fallback: options.variablePrefix + "ENTRY")))
        }
        let headers = headerBlock(meta: meta, entries: entries)
        truncated += headers.dropped
        return HandoffResult(
            status: outcome.status,
            httpStatus: outcome.httpStatus,
            errorMessage: SafeText.make(outcome.errorMessage, maxBytes: Limits.maxIDBytes).text,
            conversationID: outcome.conversationID.map { SafeText.make($0, maxBytes: Limits.maxIDBytes).text },
            sharedID: outcome.sharedID.map { SafeText.make($0, maxBytes: Limits.maxIDBytes).text },
            entries: entries,
            dataJSON: CompactJSON.string(outcome.data),
            truncated: truncated,
            headerBlock: headers.text,
            variablesBlock: (meta + entries).map { "\($0.variableName)=\($0.value)\n" }.joined())
    }

    /// Status first, then the ids when known. Their names are claimed before
    /// any data entry's (even when an id is absent), so data can never spoof
    /// them. Their values are never cut by max_value_bytes: a dialplan
    /// branches on them.
    private func metaEntries(_ outcome: Outcome, names: inout UniqueNames) -> [HandoffEntry] {
        let meta: [(key: String, value: String?)] = [
            ("handoff_status", outcome.status.nameString),
            ("conversation_id", outcome.conversationID),
            ("shared_id", outcome.sharedID),
        ]
        var entries: [HandoffEntry] = []
        for (key, value) in meta {
            let header = names.header(options.headerPrefix + NameStyle.headerCase(key), fallback: "")
            let variable = names.variable(options.variablePrefix + NameStyle.upperSnake(key), fallback: "")
            guard let value else { continue }
            entries.append(HandoffEntry(
                key: key, value: SafeText.make(value, maxBytes: Limits.maxIDBytes).text,
                headerName: header, variableName: variable))
        }
        return entries
    }

    /// "Name: value\r\n" lines within max_header_block_bytes: the status line
    /// always, then whole lines in order until one does not fit; that one and
    /// every data line after it are counted as dropped.
    private func headerBlock(meta: [HandoffEntry], entries: [HandoffEntry]) -> (text: String, dropped: Int) {
        var text = ""
        var bytes = 0
        for (index, entry) in (meta + entries).enumerated() {
            let line = "\(entry.headerName): \(entry.value)\r\n"
            if index > 0 && bytes + line.utf8.count > options.maxHeaderBlockBytes {
                return (text, entries.count - max(0, index - meta.count))
            }
            text += line
            bytes += line.utf8.count
        }
        return (text, 0)
    }
}

/// Hands out names unique within one result: SIP header names compare
/// case-insensitively, so uniqueness is checked that way; a clash gets "-2",
/// "-3", ... (variables "_2", ...) in document order.
struct UniqueNames {
    private var headers: Set<String> = []
    private var variables: Set<String> = []

    mutating func header(_ wanted: String, fallback: String) -> String {
        let base = NameStyle.bounded(wanted.isEmpty || wanted.hasSuffix("-") ? wanted + "Entry" : wanted)
        return Self.claim(base.isEmpty ? fallback : base, separator: "-", in: &headers, fold: true)
    }

    mutating func variable(_ wanted: String, fallback: String) -> String {
        var base = wanted.isEmpty || wanted.hasSuffix("_") ? wanted + "ENTRY" : wanted
        if let first = base.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") { base = "_" + base }
        return Self.claim(NameStyle.bounded(base.isEmpty ? fallback : base), separator: "_", in: &variables, fold: false)
    }

    private static func claim(_ base: String, separator: String, in used: inout Set<String>, fold: Bool) -> String {
        var candidate = base
        var suffix = 2
        while !used.insert(fold ? candidate.lowercased() : candidate).inserted {
            candidate = base + separator + String(suffix)
            suffix += 1
        }
        return candidate
    }
}
