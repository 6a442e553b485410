import Synchronization

/// New connections a client's transfers opened, by HTTP version: what the
/// stats say about which protocol is in use (HTTP/2 where the server offers
/// it by ALPN, and then lookups share connections), and how many lookups
/// paid a handshake; and those of them that warm-ups made and kept open.
final class ConnectionTally: Sendable {
    private let http1 = Atomic<UInt64>(0)
    private let http2 = Atomic<UInt64>(0)
    private let other = Atomic<UInt64>(0)
    private let warmed = Atomic<UInt64>(0)

    /// A transfer that opened `count` connections, with libcurl's
    /// CURLINFO_HTTP_VERSION (CURL_HTTP_VERSION_1_0 = 1, _1_1 = 2, _2_0 = 3).
    /// `warmedAndKept`: a warm-up's, left open for lookups. It is counted
    /// as warmed before it is counted at all, and `counts` reads the other
    /// way round, so connections minus warmed never shows a warm-up's
    /// connection as a lookup's, even for a moment.
    func record(httpVersion: Int, count: Int, warmedAndKept: Bool = false) {
        let added = UInt64(clamping: count)
        if warmedAndKept { warmed.wrappingAdd(added, ordering: .releasing) }
        switch httpVersion {
        case 1, 2: http1.wrappingAdd(added, ordering: .releasing)
        case 3: http2.wrappingAdd(added, ordering: .releasing)
        default: other.wrappingAdd(added, ordering: .releasing)
        }
    }

    var counts: ConnectionCounts {
        let one = http1.load(ordering: .acquiring), two = http2.load(ordering: .acquiring)
        let rest = other.load(ordering: .acquiring)
        return ConnectionCounts(http1: one, http2: two, total: one &+ two &+ rest, warmed: warmed.load(ordering: .acquiring))
    }
}

struct ConnectionCounts: Sendable {
    var http1: UInt64 = 0
    var http2: UInt64 = 0
    var total: UInt64 = 0
    var warmed: UInt64 = 0
}
