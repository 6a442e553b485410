import HandoffCore
import Synchronization

/// A result as C sees it. Its strings live in one NUL-separated arena,
/// allocated once and freed with the handle, so every pointer handed out
/// stays valid until handoff_result_free(). The arena is the error and ids,
/// then the flattened entries' buffer copied in one piece. Names and blocks
/// (and data_json) are built only when first asked for, once: whichever
/// thread builds one first publishes it with an atomic exchange.
final class ResultHandle: @unchecked Sendable {
    // @unchecked: immutable after init, but for the lazy parts, which are atomics.
    let status: HandoffStatus
    let httpStatus: Int32
    let elapsedUs: Int64
    private let result: HandoffResult
    private let arena: UnsafeMutableBufferPointer<UInt8>
    private let conversationIDOffset: Int?
    private let sharedIDOffset: Int?
    /// Where the entries' buffer starts in the arena.
    private let entriesBase: Int
    private let rendering = Atomic<Unmanaged<Rendering>?>(nil)
    private let dataJSON = Atomic<Unmanaged<OwnedCString>?>(nil)

    init(_ result: HandoffResult) {
        status = result.status
        httpStatus = Int32(clamping: result.httpStatus)
        elapsedUs = result.elapsedUs
        self.result = result
        let idBytes = result.errorMessage.utf8.count + 1 + (result.conversationID?.utf8.count ?? -1) + 1
            + (result.sharedID?.utf8.count ?? -1) + 1
        let arena = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: idBytes + result.flat.bytes.count)
        var cursor = 0
        func put(_ text: String) -> Int {
            let start = cursor
            cursor += UnsafeMutableBufferPointer(rebasing: arena[cursor...]).initialize(fromContentsOf: text.utf8)
            arena.initializeElement(at: cursor, to: 0)
            cursor += 1
            return start
        }
        _ = put(result.errorMessage)
        conversationIDOffset = result.conversationID.map(put)
        sharedIDOffset = result.sharedID.map(put)
        entriesBase = cursor
        _ = UnsafeMutableBufferPointer(rebasing: arena[cursor...]).initialize(fromContentsOf: result.flat.bytes)
        self.arena = arena
    }

    deinit {
        arena.deallocate()
        rendering.load(ordering: .acquiring)?.release()
        dataJSON.load(ordering: .acquiring)?.release()
    }

    var count: Int { result.flat.count }
    var errorPointer: UnsafePointer<CChar>? { string(at: 0) }
    var conversationIDPointer: UnsafePointer<CChar>? { conversationIDOffset.flatMap(string) }
    var sharedIDPointer: UnsafePointer<CChar>? { sharedIDOffset.flatMap(string) }

    func key(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? string(at: entriesBase + result.flat.offsets[2 * index]) : nil
    }

    func value(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? string(at: entriesBase + result.flat.offsets[2 * index + 1]) : nil
    }

    /// The NUL-terminated string at `offset`, or NULL for one out of range.
    private func string(at offset: Int) -> UnsafePointer<CChar>? {
        guard offset >= 0, offset < arena.count, let base = arena.baseAddress else { return nil }
        return UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self)
    }

    var rendered: Rendering { Self.once(rendering) { Rendering(result.rendered()) } }

    var dataJSONPointer: UnsafePointer<CChar> {
        UnsafePointer(Self.once(dataJSON) { OwnedCString(result.dataJSON) }.pointer)
    }

    /// The object in `slot`, built and published by the first caller; a
    /// thread that loses the race frees its own copy and takes the winner's.
    private static func once<T: AnyObject>(_ slot: borrowing Atomic<Unmanaged<T>?>, _ build: () -> T) -> T {
        if let existing = slot.load(ordering: .acquiring) { return existing.takeUnretainedValue() }
        let built = Unmanaged.passRetained(build())
        let (exchanged, current) = slot.compareExchange(expected: nil, desired: built, ordering: .acquiringAndReleasing)
        guard !exchanged, let current else { return built.takeUnretainedValue() }
        built.release()
        return current.takeUnretainedValue()
    }

    /// Names and blocks in an arena of their own.
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

        /// Entries named; an index is checked against it before any
        /// arithmetic, since C may pass any size_t (2 * 2^62 would trap).
        private var count: Int { nameOffsets.count / 2 }

        func headerName(_ index: Int) -> UnsafePointer<CChar>? {
            index >= 0 && index < count ? arena.string(nameOffsets[2 * index]) : nil
        }

        func variableName(_ index: Int) -> UnsafePointer<CChar>? {
            index >= 0 && index < count ? arena.string(nameOffsets[2 * index + 1]) : nil
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
