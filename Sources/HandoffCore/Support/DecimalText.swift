/// Decimal digits of a non-negative number appended as ASCII bytes, for the
/// byte buffers of the lookup path (array indexes in flattened keys, number
/// indexes in the prescanned document) where `String(n)` would allocate.
enum DecimalText {
    static func append(_ number: Int, to bytes: inout [UInt8]) {
        guard number >= 10 else {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: number))
            return
        }
        append(number / 10, to: &bytes)
        bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: number % 10))
    }
}
