/// Header-case and upper-snake-case names from flattened keys. Words are split
/// at every character that is not an ASCII letter or digit, and where a lower
/// case letter meets an upper case one ("customerId" is "customer", "Id").
enum NameStyle {
    static func words(_ key: String) -> [[UInt8]] {
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        var previousWasLower = false
        for byte in key.utf8 {
            let isUpper = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
            let isLower = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard isUpper || isLower || isDigit else {
                if !current.isEmpty { words.append(current) }
                current = []
                previousWasLower = false
                continue
            }
            if isUpper && previousWasLower && !current.isEmpty {
                words.append(current)
                current = []
            }
            current.append(byte)
            previousWasLower = isLower || isDigit
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// "customer.tier" -> "Customer-Tier".
    static func headerCase(_ key: String) -> String {
        let parts = words(key).map { word -> [UInt8] in
            var word = word
            if let first = word.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") {
                word[0] = first - 32
            }
            return word
        }
        return String(decoding: Array(parts.joined(separator: [UInt8(ascii: "-")])), as: UTF8.self)
    }

    /// "customer.tier" -> "CUSTOMER_TIER".
    static func upperSnake(_ key: String) -> String {
        let parts = words(key).map { word in
            word.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") ? $0 - 32 : $0 }
        }
        return String(decoding: Array(parts.joined(separator: [UInt8(ascii: "_")])), as: UTF8.self)
    }

    /// Keeps only RFC 3261 token characters, for a rename target.
    static func token(_ name: String) -> String {
        String(decoding: name.utf8.filter(TextRules.isTokenByte), as: UTF8.self)
    }

    /// Cuts an ASCII name to the generated-name limit.
    static func bounded(_ name: String) -> String {
        name.utf8.count <= Limits.maxGeneratedNameBytes
            ? name : String(decoding: name.utf8.prefix(Limits.maxGeneratedNameBytes), as: UTF8.self)
    }
}
