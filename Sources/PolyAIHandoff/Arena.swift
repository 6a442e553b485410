/// NUL-terminated strings in one allocation, freed with the arena, so every
/// pointer handed to C stays valid as long as the object that owns it.
///
/// The owner counts the bytes first and the strings are copied once, straight
/// into their final place. A writer never writes past the arena and its last
/// byte is always NUL, so a miscount gives a short string, never a trap or an
/// unterminated one.
final class Arena: @unchecked Sendable {
    // @unchecked: immutable after init.
    private let storage: UnsafeMutableBufferPointer<UInt8>

    /// An arena of `capacity` bytes (NULs included) that `fill` writes.
    init(capacity: Int, _ fill: (inout Writer) -> Void) {
        storage = .allocate(capacity: max(capacity, 1))
        storage.initialize(repeating: 0)
        var writer = Writer(storage: storage)
        fill(&writer)
    }

    deinit { storage.deallocate() }

    /// The NUL-terminated string at `offset`, or NULL for one out of range.
    func string(_ offset: Int) -> UnsafePointer<CChar>? {
        guard offset >= 0, offset < storage.count, let base = storage.baseAddress else { return nil }
        return UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self)
    }

    /// Appends to an arena being filled; each call returns where its bytes start.
    struct Writer {
        fileprivate let storage: UnsafeMutableBufferPointer<UInt8>
        private var cursor = 0

        fileprivate init(storage: UnsafeMutableBufferPointer<UInt8>) { self.storage = storage }

        /// `text` and its NUL.
        mutating func add(_ text: String) -> Int {
            var text = text
            return text.withUTF8 { add(terminated: $0, plusNUL: true) }
        }

        /// Bytes that already hold NUL-terminated strings, copied in one piece.
        mutating func add(terminated bytes: [UInt8]) -> Int {
            bytes.withUnsafeBufferPointer { add(terminated: $0, plusNUL: false) }
        }

        private mutating func add(terminated bytes: UnsafeBufferPointer<UInt8>, plusNUL: Bool) -> Int {
            let start = cursor
            // The last byte stays the NUL written at init.
            let count = min(bytes.count, max(0, storage.count - 1 - cursor))
            if count > 0, let source = bytes.baseAddress, let target = storage.baseAddress {
                (target + cursor).update(from: source, count: count)
            }
            cursor = min(storage.count - 1, cursor + count + (plusNUL ? 1 : 0))
            return start
        }
    }
}
