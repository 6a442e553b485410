import HandoffCore

/// A result as C sees it. Its strings live in NUL-separated arenas, each
/// allocated once and freed with the handle, so every pointer handed out
/// stays valid until handoff_result_free(). Keys and values are laid out at
/// once; names and blocks (and data_json) only when first asked for, once,
/// under a lock, since results are read from any thread.
final class ResultHandle: @unchecked Sendable {
    // @unchecked: immutable after init, but for the lazy parts behind their locks.
    let status: HandoffStatus
    let httpStatus: Int32
    let elapsedUs: Int64
    private let result: HandoffResult
    private let base: Arena
    private let error: Int
    private let conversationID: Int?
    private let sharedID: Int?
    /// Key and value offsets of entry i at 2i and 2i + 1.
    private let entryOffsets: [Int]
    /// Built on first use, both behind one lock.
    private let lazy = Locked<(rendering: Rendering?, dataJSON: OwnedCString?)>((nil, nil))

    init(_ result: HandoffResult) {
        var builder = ArenaBuilder()
        builder.bytes.reserveCapacity(result.entries.reduce(result.errorMessage.utf8.count + 128) {
            $0 + $1.key.utf8.count + $1.value.utf8.count + 2
        })
        status = result.status
        httpStatus = Int32(clamping: result.httpStatus)
        elapsedUs = result.elapsedUs
        self.result = result
        error = builder.add(result.errorMessage)
        conversationID = result.conversationID.map { builder.add($0) }
        sharedID = result.sharedID.map { builder.add($0) }
        entryOffsets = builder.addPairs(result.entries) { ($0.key, $0.value) }
        base = Arena(builder)
    }

    var count: Int { entryOffsets.count / 2 }
    var errorPointer: UnsafePointer<CChar>? { base.string(error) }
    var conversationIDPointer: UnsafePointer<CChar>? { conversationID.flatMap(base.string) }
    var sharedIDPointer: UnsafePointer<CChar>? { sharedID.flatMap(base.string) }

    func key(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? base.string(entryOffsets[2 * index]) : nil
    }

    func value(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? base.string(entryOffsets[2 * index + 1]) : nil
    }

    var rendered: Rendering {
        lazy.withLock { parts in
            if let cached = parts.rendering { return cached }
            let built = Rendering(result.rendered())
            parts.rendering = built
            return built
        }
    }

    var dataJSONPointer: UnsafePointer<CChar> {
        lazy.withLock { parts in
            if let cached = parts.dataJSON { return UnsafePointer(cached.pointer) }
            let built = OwnedCString(result.dataJSON)
            parts.dataJSON = built
            return UnsafePointer(built.pointer)
        }
    }

    /// Names and blocks, laid out like the base strings.
    final class Rendering: @unchecked Sendable {
        // @unchecked: immutable after init.
        let truncated: Int
        private let arena: Arena
        private let headerBlock: Int
        private let variablesBlock: Int
        /// Header and variable name offsets of entry i at 2i and 2i + 1.
        private let nameOffsets: [Int]

        init(_ rendered: RenderedResult) {
            var builder = ArenaBuilder()
            truncated = rendered.truncated
            headerBlock = builder.add(rendered.headerBlock)
            variablesBlock = builder.add(rendered.variablesBlock)
            nameOffsets = builder.addPairs(rendered.entries) { ($0.headerName, $0.variableName) }
            arena = Arena(builder)
        }

        var headerBlockPointer: UnsafePointer<CChar>? { arena.string(headerBlock) }
        var variablesBlockPointer: UnsafePointer<CChar>? { arena.string(variablesBlock) }

        func headerName(_ index: Int) -> UnsafePointer<CChar>? {
            index >= 0 && 2 * index < nameOffsets.count ? arena.string(nameOffsets[2 * index]) : nil
        }

        func variableName(_ index: Int) -> UnsafePointer<CChar>? {
            index >= 0 && 2 * index + 1 < nameOffsets.count ? arena.string(nameOffsets[2 * index + 1]) : nil
        }
    }
}

/// Collects strings as NUL-terminated UTF-8, one after another.
struct ArenaBuilder {
    var bytes: [UInt8] = []

    mutating func add(_ text: String) -> Int {
        let offset = bytes.count
        bytes.append(contentsOf: text.utf8)
        bytes.append(0)
        return offset
    }

    /// Two strings per item; their offsets at 2i and 2i + 1.
    mutating func addPairs<Item>(_ items: [Item], _ strings: (Item) -> (String, String)) -> [Int] {
        var offsets: [Int] = []
        offsets.reserveCapacity(items.count * 2)
        for item in items {
            let (first, second) = strings(item)
            offsets.append(add(first))
            offsets.append(add(second))
        }
        return offsets
    }
}

/// One allocation holding an ArenaBuilder's strings, freed with it.
final class Arena: @unchecked Sendable {
    // @unchecked: immutable after init.
    private let storage: UnsafeMutableBufferPointer<UInt8>

    init(_ builder: ArenaBuilder) {
        storage = .allocate(capacity: max(builder.bytes.count, 1))
        _ = storage.initialize(from: builder.bytes)
    }

    deinit { storage.deallocate() }

    /// The NUL-terminated string at `offset`, or NULL for one out of range.
    func string(_ offset: Int) -> UnsafePointer<CChar>? {
        guard offset >= 0, offset < storage.count, let base = storage.baseAddress else { return nil }
        return UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self)
    }
}
