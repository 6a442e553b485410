import Glibc

/// Static C strings for messages returned when there is no object to own one.
enum StaticCString {
    static func pointer(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

/// A heap C string owned by a Swift object: freed with it, stable until then.
final class OwnedCString: @unchecked Sendable {
    // @unchecked: immutable after init.
    let pointer: UnsafeMutablePointer<CChar>

    init(_ text: String) {
        let utf8 = Array(text.utf8)
        pointer = .allocate(capacity: utf8.count + 1)
        utf8.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { chars in
                // An empty array may have no base address at all.
                if let base = chars.baseAddress { pointer.initialize(from: base, count: chars.count) }
            }
        }
        pointer[utf8.count] = 0
    }

    deinit { pointer.deallocate() }
}

enum CallerText {
    /// Bytes of a caller's C string, reading at most `limit` + 1 of them so an
    /// unterminated or huge argument cannot make us walk memory.
    static func bytes(_ pointer: UnsafePointer<CChar>, limit: Int) -> [UInt8] {
        let length = strnlen(pointer, limit + 1)
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// A caller's configuration text, repaired if not UTF-8.
    static func string(_ pointer: UnsafePointer<CChar>) -> String {
        String(decoding: bytes(pointer, limit: 1 << 20), as: UTF8.self)
    }
}
