/// Makes text safe to put in a SIP header value, a channel variable or a C
/// string: no control characters (C0, DEL, C1, U+2028/U+2029 become a space,
/// so no CR/LF/NUL can ever get through), valid UTF-8 (U+FFFD for anything
/// else), at most `maxBytes`, cut between characters.
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
        var copy = text
        let wasCut = copy.withUTF8 { append($0, maxBytes: maxBytes, to: &out) }
        return Cut(text: String(decoding: out, as: UTF8.self), wasCut: wasCut)
    }

    /// Appends `input` made safe to `output`; returns whether it was cut.
    /// The lookup path writes every key and value this way, straight from
    /// the parse tree into the result's buffer.
    @discardableResult
    static func append(_ input: UnsafeBufferPointer<UInt8>, maxBytes: Int, to output: inout [UInt8]) -> Bool {
        if input.count <= maxBytes && isPrintableASCII(input) {
            output.append(contentsOf: input)
            return false
        }
        var written = 0
        var bytes = input.makeIterator()
        var decoder = Unicode.UTF8()
        while true {
            let scalar: Unicode.Scalar
            switch decoder.decode(&bytes) {
            case .scalarValue(let decoded): scalar = isUnsafe(decoded) ? " " : decoded
            case .error: scalar = "\u{FFFD}"
            case .emptyInput: return false
            }
            let width = UTF8.width(scalar)
            guard written + width <= maxBytes else { return true }
            UTF8.encode(scalar) { output.append($0) }
            written += width
        }
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }

    /// Every byte is a printable ASCII character: nearly every key and value.
    static func isPrintableASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in bytes where byte < 0x20 || byte >= 0x7F { return false }
        return true
    }

    /// The same test as `isUnsafe` on UTF-8 bytes: C0 and DEL are single
    /// bytes, C1 is C2 80..C2 9F, U+2028/U+2029 are E2 80 A8 / E2 80 A9.
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
