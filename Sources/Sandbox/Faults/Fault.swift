/// One way a reply departs from the normal 200. Each field of a fixture's
/// `respond` object becomes exactly one case; `Fault.parsers` is the table
/// from field name to case, so a new behaviour is one case, one row and one
/// line in `apply(to:)`.
enum Fault: Sendable {
    /// `"status": N`: send N instead of 200.
    case status(Int)
    /// `"body": "…"` (or `"body_hex"`, for bytes that are not UTF-8): send
    /// these bytes instead of the handoff JSON.
    case body([UInt8])
    /// `"headers": {…}`: add these response headers, replacing defaults of the same name.
    case headers([HeaderField])
    /// `"delay_ms": N`: wait before sending anything.
    case delay(milliseconds: Int)
    /// `"stall_after_headers": true`: send the head, then nothing, socket left open.
    case stallAfterHeaders
    /// `"trickle_ms": N`: send the body one byte every N ms.
    case trickle(milliseconds: Int)
    /// `"reset": true`: answer with a TCP RST instead of a response.
    case reset
    /// `"close_after_bytes": N`: send the head and N body bytes, then close (FIN).
    case closeAfter(bytes: Int)
    /// `"pad_bytes": N`: add a `"padding"` string of N 'x' to the end of `data`.
    case pad(bytes: Int)
    /// `"echo_key": true`: the body is an `error_message` quoting the
    /// request's `x-api-key`, as gateways that reflect headers do.
    case echoKey

    typealias Parser = @Sendable (RawJSON, String) throws(FixtureError) -> Fault?

    /// Field name to parser. A parser returns nil for a field that asks for
    /// nothing, such as `"reset": false`.
    static let parsers: [String: Parser] = [
        "status": { value, path throws(FixtureError) in
            .status(try value.integer(in: 200...599, at: path))
        },
        "body": { value, path throws(FixtureError) in
            .body(Array(try value.string(at: path).value.utf8))
        },
        "body_hex": { value, path throws(FixtureError) in
            .body(try hexBytes(value.string(at: path).value, at: path))
        },
        "headers": { value, path throws(FixtureError) in
            .headers(try HeaderField.parseList(value, at: path))
        },
        "delay_ms": { value, path throws(FixtureError) in
            .delay(milliseconds: try value.integer(in: 0...3_600_000, at: path))
        },
        "stall_after_headers": { value, path throws(FixtureError) in
            try value.boolean(at: path) ? .stallAfterHeaders : nil
        },
        "trickle_ms": { value, path throws(FixtureError) in
            .trickle(milliseconds: try value.integer(in: 1...60_000, at: path))
        },
        "reset": { value, path throws(FixtureError) in
            try value.boolean(at: path) ? .reset : nil
        },
        "close_after_bytes": { value, path throws(FixtureError) in
            .closeAfter(bytes: try value.integer(in: 0...(64 << 20), at: path))
        },
        "pad_bytes": { value, path throws(FixtureError) in
            .pad(bytes: try value.integer(in: 0...(64 << 20), at: path))
        },
        "echo_key": { value, path throws(FixtureError) in
            try value.boolean(at: path) ? .echoKey : nil
        },
    ]

    /// "7b22ff" -> [0x7B, 0x22, 0xFF]: two hex digits a byte, either case.
    static func hexBytes(_ text: String, at path: String) throws(FixtureError) -> [UInt8] {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { throw FixtureError(path, "expected an even number of hex digits") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                throw FixtureError(path, "expected only hex digits (0-9, a-f, A-F)")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Folds this fault into a reply being planned.
    func apply(to plan: inout ReplyPlan) {
        switch self {
        case .status(let code): plan.status = code
        case .body(let bytes): plan.rawBody = bytes
        case .headers(let fields): plan.extraHeaders += fields
        case .delay(let milliseconds): plan.delayMs = milliseconds
        case .stallAfterHeaders: plan.delivery = .stallAfterHeaders
        case .trickle(let milliseconds): plan.delivery = .trickle(milliseconds: milliseconds)
        case .reset: plan.delivery = .reset
        case .closeAfter(let bytes): plan.delivery = .closeAfter(bytes: bytes)
        case .pad(let bytes): plan.padBytes = bytes
        case .echoKey: plan.echoesKey = true
        }
    }

    /// True for the faults that change how bytes reach the socket; only one
    /// of them makes sense per step.
    var isDeliveryMode: Bool {
        switch self {
        case .stallAfterHeaders, .trickle, .reset, .closeAfter: true
        case .status, .body, .headers, .delay, .pad, .echoKey: false
        }
    }
}
