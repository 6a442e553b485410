import HandoffCore
import Synchronization

/// A result as C sees it. Its strings live in one `Arena`,
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
    private let arena: Arena
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
        let idBytes = result.errorMessage.utf8.count + 1 + (result.conversationID.map { $0.utf8.count + 1 } ?? 0)
            + (result.sharedID.map { $0.utf8.count + 1 } ?? 0)
        var offsets: (conversationID: Int?, sharedID: Int?, entries: Int) = (nil, nil, 0)
        arena = Arena(capacity: idBytes + result.flat.bytes.count) { writer in
            _ = writer.add(result.errorMessage)
            offsets.conversationID = result.conversationID.map { writer.add($0) }
            offsets.sharedID = result.sharedID.map { writer.add($0) }
            offsets.entries = writer.add(terminated: result.flat.bytes)
        }
        (conversationIDOffset, sharedIDOffset, entriesBase) = offsets
    }

    deinit {
        rendering.load(ordering: .acquiring)?.release()
        dataJSON.load(ordering: .acquiring)?.release()
    }

    var count: Int { result.flat.count }
    var errorPointer: UnsafePointer<CChar>? { arena.string(0) }
    var conversationIDPointer: UnsafePointer<CChar>? { conversationIDOffset.flatMap(arena.string) }
    var sharedIDPointer: UnsafePointer<CChar>? { sharedIDOffset.flatMap(arena.string) }

    func key(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? arena.string(entriesBase + result.flat.offsets[2 * index]) : nil
    }

    func value(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? arena.string(entriesBase + result.flat.offsets[2 * index + 1]) : nil
    }

    var rendered: Rendering { publishedOnce(rendering) { Rendering(result.rendered()) } }

    /// The C edge's part of PathWarmUp: a handle made and read once, when
    /// the first client is made, so its first run is not under a fork.
    static let warmedUp: Bool = {
        let handle = ResultHandle(PathWarmUp.sample())
        _ = handle.key(0)
        _ = handle.value(0)
        _ = handle.rendered.headerBlockPointer
        _ = handle.rendered.headerName(0)
        _ = handle.dataJSONPointer
        _ = handle.errorPointer
        return true
    }()

    var dataJSONPointer: UnsafePointer<CChar> {
        UnsafePointer(publishedOnce(dataJSON) { OwnedCString(result.dataJSON) }.pointer)
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
            truncated = rendered.truncated
            let nameBytes = rendered.entries.reduce(0) { $0 + $1.headerName.utf8.count + $1.variableName.utf8.count + 2 }
            var offsets: (header: Int, variables: Int, names: [Int]) = (0, 0, [])
            offsets.names.reserveCapacity(2 * rendered.entries.count)
            arena = Arena(capacity: rendered.headerBlock.utf8.count + rendered.variablesBlock.utf8.count + 2 + nameBytes) { writer in
                offsets.header = writer.add(rendered.headerBlock)
                offsets.variables = writer.add(rendered.variablesBlock)
                for entry in rendered.entries {
                    offsets.names.append(writer.add(entry.headerName))
                    offsets.names.append(writer.add(entry.variableName))
                }
            }
            (headerBlock, variablesBlock, nameOffsets) = offsets
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
