import Synchronization

/// Counters behind `GET /_sandbox/stats`. Tests diff them around a call to
/// prove a connection was reused, or that an invalid id sent nothing.
final class Stats: Sendable {
    private let requests = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)

    /// Counts one request other than a stats request. A connection counts
    /// on its first such request, so the stats queries themselves never
    /// show up in either number.
    func recordRequest(firstOnConnection: Bool) {
        requests.wrappingAdd(1, ordering: .relaxed)
        if firstOnConnection { connections.wrappingAdd(1, ordering: .relaxed) }
    }

    var json: String {
        "{\"requests\":\(requests.load(ordering: .relaxed)),\"connections\":\(connections.load(ordering: .relaxed))}"
    }
}
