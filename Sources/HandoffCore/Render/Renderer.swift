/// Builds a `HandoffResult` from a lookup's outcome (flattened, bounded, safe
/// values), and renders it on demand (names, header and variable blocks).
/// Every result, success or not, carries the meta entries a dialplan branches on.
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
        /// `data`, already flattened by the decoder when it came from the wire.
        var flat: FlatEntries? = nil
        var source = DataSource.value(.object([]))

        /// The data object.
        public var data: JSONValue {
            get { source.value }
            set {
                source = .value(newValue)
                flat = nil
            }
        }

        public init(status: HandoffStatus, httpStatus: Int = 0, errorMessage: String = "") {
            self.status = status
            self.httpStatus = httpStatus
            self.errorMessage = errorMessage
        }
    }

    /// Flattens and bounds the data; names and blocks wait for `render`.
    public func result(_ outcome: Outcome) -> HandoffResult {
        // Ids longer than any real one (1 KiB) are cut, and counted like a cut value.
        let conversationID = outcome.conversationID.map { SafeText.make($0, maxBytes: Limits.maxIDBytes) }
        let sharedID = outcome.sharedID.map { SafeText.make($0, maxBytes: Limits.maxIDBytes) }
        return HandoffResult(
            status: outcome.status,
            httpStatus: outcome.httpStatus,
            errorMessage: SafeText.make(outcome.errorMessage, maxBytes: Limits.maxIDBytes).text,
            conversationID: conversationID?.text,
            sharedID: sharedID?.text,
            flat: outcome.flat ?? Flattener(options: options).flatten(outcome.data),
            idsCut: (conversationID?.wasCut == true ? 1 : 0) + (sharedID?.wasCut == true ? 1 : 0),
            dataSource: outcome.source,
            options: options)
    }

    /// Names every entry and builds both blocks. The meta names are claimed
    /// first (all three, even when an id is absent), so data can never spoof
    /// them.
    func render(_ result: HandoffResult) -> RenderedResult {
        var names = UniqueNames()
        var metaNames: [String: (header: String, variable: String)] = [:]
        for key in ["handoff_status", "conversation_id", "shared_id"] {
            let (header, variable) = NameStyle.names(key, headerPrefix: options.headerPrefix, variablePrefix: options.variablePrefix)
            metaNames[key] = (names.header(header, fallback: ""), names.variable(variable, fallback: ""))
        }
        let meta = result.meta.map { pair in
            let name = metaNames[pair.key] ?? ("", "")
            return HandoffEntry(key: pair.key, value: pair.value, headerName: name.header, variableName: name.variable)
        }
        var entries: [HandoffEntry] = []
        entries.reserveCapacity(result.flat.count)
        for pair in result.entries {
            let header: String
            let variable: String
            if let renamed = options.renames[pair.key] {
                (header, variable) = (NameStyle.token(renamed), NameStyle.upperSnake(renamed))
            } else {
                (header, variable) = NameStyle.names(pair.key, headerPrefix: options.headerPrefix, variablePrefix: options.variablePrefix)
            }
            entries.append(HandoffEntry(
                key: pair.key, value: pair.value,
                headerName: names.header(header, fallback: options.headerPrefix + "Entry"),
                variableName: names.variable(variable, fallback: options.variablePrefix + "ENTRY")))
        }
        let headers = headerBlock(meta: meta, entries: entries)
        return RenderedResult(
            result: result, entries: entries, headerBlock: headers.text,
            variablesBlock: Self.variablesBlock(meta + entries),
            truncated: result.truncatedBeforeRendering + headers.dropped)
    }

    /// "Name: value\r\n" lines within max_header_block_bytes: the status line
    /// always, then whole lines in order until one does not fit; that one and
    /// every line after it, meta or data, are counted as dropped.
    private func headerBlock(meta: [HandoffEntry], entries: [HandoffEntry]) -> (text: String, dropped: Int) {
        var text: [UInt8] = []
        text.reserveCapacity(options.maxHeaderBlockBytes)
        for (index, entry) in (meta + entries).enumerated() {
            let size = entry.headerName.utf8.count + entry.value.utf8.count + 4
            if index > 0 && text.count + size > options.maxHeaderBlockBytes {
                return (String(decoding: text, as: UTF8.self), meta.count + entries.count - index)
            }
            text.append(contentsOf: entry.headerName.utf8)
            text.append(contentsOf: ": ".utf8)
            text.append(contentsOf: entry.value.utf8)
            text.append(contentsOf: "\r\n".utf8)
        }
        return (String(decoding: text, as: UTF8.self), 0)
    }

    /// "NAME=value\n" lines.
    private static func variablesBlock(_ entries: [HandoffEntry]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(entries.reduce(0) { $0 + $1.variableName.utf8.count + $1.value.utf8.count + 2 })
        for entry in entries {
            text.append(contentsOf: entry.variableName.utf8)
            text.append(UInt8(ascii: "="))
            text.append(contentsOf: entry.value.utf8)
            text.append(UInt8(ascii: "\n"))
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Hands out names unique within one result: SIP header names compare
/// case-insensitively, so uniqueness is checked that way; a clash gets "-2",
/// "-3", ... (variables "_2", ...) in document order. A result has a few
/// dozen names: they are compared directly until there are many, then hashed.
struct UniqueNames {
    private var headers = NameSet(foldCase: true)
    private var variables = NameSet(foldCase: false)

    mutating func header(_ wanted: String, fallback: String) -> String {
        let base = NameStyle.bounded(wanted.isEmpty || wanted.hasSuffix("-") ? wanted + "Entry" : wanted)
        return Self.claim(base.isEmpty ? fallback : base, separator: "-", in: &headers)
    }

    mutating func variable(_ wanted: String, fallback: String) -> String {
        var base = wanted.isEmpty || wanted.hasSuffix("_") ? wanted + "ENTRY" : wanted
        if let first = base.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") { base = "_" + base }
        return Self.claim(NameStyle.bounded(base.isEmpty ? fallback : base), separator: "_", in: &variables)
    }

    private static func claim(_ base: String, separator: String, in used: inout NameSet) -> String {
        var candidate = base
        var suffix = 2
        while !used.insert(candidate) {
            candidate = base + separator + String(suffix)
            suffix += 1
        }
        return candidate
    }
}

/// The names handed out so far.
struct NameSet {
    static let linearLimit = 64
    let foldCase: Bool
    private var names: [String] = []
    private var hashed: Set<String> = []

    init(foldCase: Bool) { self.foldCase = foldCase }

    /// Adds `name`; false if it (or, folding case, a variant) is already there.
    mutating func insert(_ name: String) -> Bool {
        if names.count < Self.linearLimit {
            let taken = names.contains { foldCase ? NameStyle.equalIgnoringASCIICase($0, name) : $0 == name }
            guard !taken else { return false }
            names.append(name)
            if names.count == Self.linearLimit { hashed = Set(names.map(key)) }
            return true
        }
        return hashed.insert(key(name)).inserted
    }

    private func key(_ name: String) -> String { foldCase ? NameStyle.asciiLowercased(name) : name }
}
