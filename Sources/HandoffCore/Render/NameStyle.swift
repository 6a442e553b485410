/// Header-case and upper-snake-case names from flattened keys, in one pass
/// over the key's bytes. Words are split at every character that is not an
/// ASCII letter or digit, and where a lower case letter meets an upper case
/// one ("customerId" is "customer", "Id").
enum NameStyle {
    /// "customer.tier" -> "Customer-Tier" (after `headerPrefix`) and
    /// "CUSTOMER_TIER" (after `variablePrefix`). Each name is written straight
    /// into its string's storage: this runs for every entry of every lookup.
    static func names(_ key: String, headerPrefix: String, variablePrefix: String) -> (header: String, variable: String) {
        let capacity = key.utf8.count * 2 + 1
        let header = String(unsafeUninitializedCapacity: headerPrefix.utf8.count + capacity) { buffer in
            write(key, prefix: headerPrefix, into: buffer, separator: UInt8(ascii: "-"), upperCaseAll: false)
        }
        let variable = String(unsafeUninitializedCapacity: variablePrefix.utf8.count + capacity) { buffer in
            write(key, prefix: variablePrefix, into: buffer, separator: UInt8(ascii: "_"), upperCaseAll: true)
        }
        return (header, variable)
    }

    /// Writes prefix + styled key; returns the byte count. A key of n bytes
    /// gives at most 2n - 1 bytes (a separator before each later word).
    private static func write(_ key: String, prefix: String, into buffer: UnsafeMutableBufferPointer<UInt8>,
                              separator: UInt8, upperCaseAll: Bool) -> Int {
        var count = 0
        func put(_ byte: UInt8) {
            guard count < buffer.count else { return }
            buffer[count] = byte
            count += 1
        }
        for byte in prefix.utf8 { put(byte) }
        var inWord = false
        var previousWasLower = false
        var wordCount = 0
        for byte in key.utf8 {
            let isUpper = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
            let isLower = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard isUpper || isLower || isDigit else {
                inWord = false
                previousWasLower = false
                continue
            }
            let startsWord = !inWord || (isUpper && previousWasLower)
            if startsWord {
                if wordCount > 0 { put(separator) }
                wordCount += 1
            }
            put(isLower && (upperCaseAll || startsWord) ? byte - 32 : byte)
            inWord = true
            previousWasLower = isLower || isDigit
        }
        return count
    }

    /// "customer.tier" -> "Customer-Tier".
    static func headerCase(_ key: String) -> String { names(key, headerPrefix: "", variablePrefix: "").header }

    /// "customer.tier" -> "CUSTOMER_TIER".
    static func upperSnake(_ key: String) -> String { names(key, headerPrefix: "", variablePrefix: "").variable }

    /// Keeps only RFC 3261 token characters, for a rename target.
    static func token(_ name: String) -> String {
        String(decoding: name.utf8.filter(TextRules.isTokenByte), as: UTF8.self)
    }

    /// Cuts an ASCII name to the generated-name limit.
    static func bounded(_ name: String) -> String {
        name.utf8.count <= Limits.maxGeneratedNameBytes
            ? name : String(decoding: name.utf8.prefix(Limits.maxGeneratedNameBytes), as: UTF8.self)
    }

    /// ASCII lower case, for comparing header names (which are ASCII).
    static func asciiLowercased(_ name: String) -> String {
        String(decoding: name.utf8.map(lower), as: UTF8.self)
    }

    static func equalIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8) { lower($0) == lower($1) }
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
