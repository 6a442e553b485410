import Synchronization

/// New connections a client's transfers opened, by HTTP version: what the
/// stats say about which protocol is in use (HTTP/2 where the server offers
/// it by ALPN, and then lookups share connections), and how many lookups
/// paid a handshake.
final class ConnectionTally: Sendable {
    private let http1 = Atomic<UInt64>(0)
    private let http2 = Atomic<UInt64>(0)
    private let other = Atomic<UInt64>(0)

    /// A transfer that opened `count` connections, with libcurl's
    /// CURLINFO_HTTP_VERSION (CURL_HTTP_VERSION_1_0 = 1, _1_1 = 2, _2_0 = 3).
    func record(httpVersion: Int, count: Int) {
        let added = UInt64(clamping: count)
        switch httpVersion {
        case 1, 2: http1.wrappingAdd(added, ordering: .relaxed)
        case 3: http2.wrappingAdd(added, ordering: .relaxed)
        default: other.wrappingAdd(added, ordering: .relaxed)
        }
    }

    var counts: (http1: UInt64, http2: UInt64, total: UInt64) {
        let one = http1.load(ordering: .relaxed), two = http2.load(ordering: .relaxed)
        return (one, two, one &+ two &+ other.load(ordering: .relaxed))
    }
}
