import HandoffCore

/// A result as C sees it: every string of it in one NUL-separated buffer,
/// allocated once and freed with the handle, so every pointer handed out stays
/// valid until handoff_result_free().
final class ResultHandle: @unchecked Sendable {
    // @unchecked: immutable after init.
    struct EntryOffsets {
        let key, value, headerName, variableName: Int
    }

    let status: HandoffStatus
    let httpStatus: Int32
    let truncated: Int
    let elapsedUs: Int64
    let error: Int
    let conversationID: Int?
    let sharedID: Int?
    let dataJSON: Int
    let headerBlock: Int
    let variablesBlock: Int
    let entries: [EntryOffsets]
    private let storage: UnsafeMutableBufferPointer<CChar>

    init(_ result: HandoffResult) {
        var arena = Arena()
        status = result.status
        httpStatus = Int32(clamping: result.httpStatus)
        truncated = result.truncated
        elapsedUs = result.elapsedUs
        error = arena.add(result.errorMessage)
        conversationID = result.conversationID.map { arena.add($0) }
        sharedID = result.sharedID.map { arena.add($0) }
        dataJSON = arena.add(result.dataJSON)
        headerBlock = arena.add(result.headerBlock)
        variablesBlock = arena.add(result.variablesBlock)
        entries = result.entries.map {
            EntryOffsets(key: arena.add($0.key), value: arena.add($0.value),
                         headerName: arena.add($0.headerName), variableName: arena.add($0.variableName))
        }
        storage = .allocate(capacity: arena.bytes.count)
        _ = storage.initialize(from: arena.bytes)
    }

    deinit { storage.deallocate() }

    /// The NUL-terminated string at `offset`, or NULL for a missing one.
    func string(_ offset: Int?) -> UnsafePointer<CChar>? {
        guard let offset, offset >= 0, offset < storage.count, let base = storage.baseAddress else { return nil }
        return UnsafePointer(base + offset)
    }

    func entry(_ index: Int) -> EntryOffsets? {
        index >= 0 && index < entries.count ? entries[index] : nil
    }

    private struct Arena {
        var bytes: [CChar] = []

        mutating func add(_ text: String) -> Int {
            let offset = bytes.count
            for byte in text.utf8 { bytes.append(CChar(bitPattern: byte)) }
            bytes.append(0)
            return offset
        }
    }
}
