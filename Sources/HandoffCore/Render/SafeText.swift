/// Makes text safe to put in a SIP header value, a channel variable or a C
/// string: no control characters (C0, DEL, C1, U+2028/U+2029 become a space,
/// so no CR/LF/NUL can ever get through), valid UTF-8, at most `maxBytes`.
enum SafeText {
    struct Cut {
        let text: String
        let wasCut: Bool
    }

    static func make(_ text: String, maxBytes: Int) -> Cut {
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
}
