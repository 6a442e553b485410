/// Makes text safe to put in a SIP header value, a channel variable or a C
/// string: no control characters (C0, DEL, C1, U+2028/U+2029 become a space,
/// so no CR/LF/NUL can ever get through), valid UTF-8, at most `maxBytes`.
enum SafeText {
    struct Cut {
        let text: String
        let wasCut: Bool
    }

    static func make(_ text: String, maxBytes: Int) -> Cut {
        // Nearly every value is already clean and short: hand it back as is.
        if text.utf8.count <= maxBytes && !containsUnsafe(text.utf8) { return Cut(text: text, wasCut: false) }
        var out: [UInt8] = []
        out.reserveCapacity(min(text.utf8.count, maxBytes))
        var wasCut = false
        for scalar in text.unicodeScalars {
            let safe = isUnsafe(scalar) ? " " : scalar
            let width = safe.utf8.count
            guard out.count + width <= maxBytes else {
                wasCut = true
                break
            }
            out.append(contentsOf: safe.utf8)
        }
        return Cut(text: String(decoding: out, as: UTF8.self), wasCut: wasCut)
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }

    /// The same test on UTF-8 bytes: C0 and DEL are single bytes, C1 is
    /// C2 80..C2 9F, U+2028/U+2029 are E2 80 A8 / E2 80 A9. Runs for every
    /// value of every lookup, so it reads the string's own storage directly.
    static func containsUnsafe(_ bytes: String.UTF8View) -> Bool {
        if let found = bytes.withContiguousStorageIfAvailable(containsUnsafe) { return found }
        return containsUnsafe(Array(bytes))
    }

    static func containsUnsafe(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer(containsUnsafe)
    }

    static func containsUnsafe(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte >= 0x20 && byte < 0x7F { continue }  // printable ASCII: nearly every byte
            if byte < 0x80 { return true }                // C0 or DEL
            if byte == 0xC2, index < bytes.count, bytes[index] <= 0x9F { return true }  // C1
            if byte == 0xE2, index + 1 < bytes.count, bytes[index] == 0x80,
               bytes[index + 1] == 0xA8 || bytes[index + 1] == 0xA9 { return true }     // U+2028, U+2029
        }
        return false
    }
}
