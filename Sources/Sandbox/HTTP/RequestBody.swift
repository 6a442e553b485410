import NIOCore

/// A POST body as it arrives. At most `limit` bytes are kept; a longer body
/// is only marked, so a client streaming megabytes costs no memory.
struct RequestBody {
    /// 64 KiB: the reservation endpoint answers anything longer with 413.
    static let limit = 64 << 10

    private(set) var bytes: [UInt8] = []
    private(set) var overflowed = false

    mutating func append(_ chunk: ByteBuffer) {
        guard !overflowed else { return }
        guard bytes.count + chunk.readableBytes <= Self.limit else {
            overflowed = true
            bytes = []
            return
        }
        bytes.append(contentsOf: chunk.readableBytesView)
    }
}
