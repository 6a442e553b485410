/// Flattened data entries, in document order, as one buffer of NUL-terminated
/// UTF-8: key, value, key, value... Each key and value is already safe (see
/// `SafeText`) and within its bound, so no string of it holds a NUL.
///
/// The lookup path writes entries here straight from jansson's tree, and the
/// C result copies `bytes` in one piece: building a Swift String per key and
/// value, then copying each into C memory, cost more than the parse itself.
public struct FlatEntries: Sendable, Equatable {
    /// "key\0value\0key\0value\0..."
    public private(set) var bytes: [UInt8] = []
    /// Where entry i's key starts is at 2i, its value at 2i + 1.
    public private(set) var offsets: [Int] = []
    /// Entries include/exclude keep that max_depth or max_entries left out
    /// (see `Flattener`).
    public internal(set) var dropped = 0
    /// Keys cut to `Limits.maxKeyBytes` and values cut to max_value_bytes.
    public internal(set) var cut = 0

    public init() {}

    public var count: Int { offsets.count / 2 }

    /// The key of entry `index`, which must be below `count`.
    public func key(at index: Int) -> String { string(at: offsets[2 * index]) }

    /// The value of entry `index`, which must be below `count`.
    public func value(at index: Int) -> String { string(at: offsets[2 * index + 1]) }

    /// Every entry as strings.
    public var pairs: [HandoffPair] {
        (0..<count).map { HandoffPair(key: key(at: $0), value: value(at: $0)) }
    }

    mutating func reserveCapacity(bytes byteCount: Int, entries: Int) {
        bytes.reserveCapacity(byteCount)
        offsets.reserveCapacity(2 * entries)
    }

    /// Adds an entry: the key made safe within `Limits.maxKeyBytes`, the value
    /// within `maxValueBytes`; a key and a value cut count as two.
    mutating func append(key: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, maxValueBytes: Int) {
        offsets.append(bytes.count)
        if SafeText.append(key, maxBytes: Limits.maxKeyBytes, to: &bytes) { cut += 1 }
        bytes.append(0)
        offsets.append(bytes.count)
        if SafeText.append(value, maxBytes: maxValueBytes, to: &bytes) { cut += 1 }
        bytes.append(0)
    }

    private func string(at offset: Int) -> String {
        bytes.withUnsafeBufferPointer { all in
            let rest = UnsafeBufferPointer(rebasing: all[offset...])
            let length = rest.firstIndex(of: 0) ?? rest.count
            return String(decoding: UnsafeBufferPointer(rebasing: rest[..<length]), as: UTF8.self)
        }
    }
}
