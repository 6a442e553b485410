/// Everything the handler needs to answer one request: what to send and how
/// to deliver it. Built by the router, carried out by `ReplyDelivery`.
struct Reply: Sendable {
    var status: Int
    var body: [UInt8]
    /// Sent after Content-Type and Content-Length, replacing either when named.
    var extraHeaders: [HeaderField] = []
    var delayMs = 0
    var delivery: Delivery = .whole
    /// The body is to quote the request's x-api-key (`echo_key`), which only
    /// the router knows.
    var echoesKey = false

    /// The API's error shape, `{"error_message":"…"}`. Messages are fixed
    /// ASCII without quotes or backslashes, so no escaping is needed.
    static func error(_ status: Int, _ message: String) -> Reply {
        Reply(status: status, body: Array("{\"error_message\":\"\(message)\"}".utf8))
    }

    /// This reply with the body `echo_key` asks for.
    func echoing(apiKey: String) -> Reply {
        var reply = self
        var body = Array("{\"error_message\":\"upstream refused the request with header x-api-key: ".utf8)
        for byte in apiKey.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                body += [UInt8(ascii: "\\"), byte]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                body += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default:
                body.append(byte)
            }
        }
        body += Array("\"}".utf8)
        reply.body = body
        return reply
    }
}

/// How the bytes of a reply reach the socket.
enum Delivery: Sendable {
    /// Head and body at once, as a real server would.
    case whole
    /// Head with its Content-Length, then silence with the socket open.
    case stallAfterHeaders
    /// Head at once, then the body one byte every N ms.
    case trickle(milliseconds: Int)
    /// No response: SO_LINGER 0 and close, so the peer sees a TCP RST.
    case reset
    /// Head with the full Content-Length, the first N body bytes, then an
    /// orderly close: a truncated body.
    case closeAfter(bytes: Int)
}
