#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A client's counters and latency histogram. Counters are striped by thread,
/// so many threads recording at once rarely share a lock; a snapshot adds the
/// stripes up.
final class ClientStats: Sendable {
    /// Histogram bucket upper bounds, in milliseconds.
    static let bucketsMs = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    private static let stripeCount = 32  // the top 5 bits of the hash

    private let stripes = (0..<ClientStats.stripeCount).map { _ in Locked(StatsSnapshot()) }

    /// This thread's stripe: thread ids are addresses a stack apart, so they
    /// are mixed (Fibonacci hashing) before taking the top bits.
    private var counters: Locked<StatsSnapshot> {
        stripes[Int((UInt(pthread_self()) &* 0x9E37_79B9_7F4A_7C15) >> 59)]
    }

    /// `requests`: HTTP requests the lookup sent, retries included.
    func recordLookup(_ status: HandoffStatus, elapsedUs: Int64, requests: Int = 0, cacheHit: Bool = false, shared: Bool = false) {
        counters.withLock { counters in
            counters.lookups &+= 1
            counters.requests &+= UInt64(clamping: requests)
            counters.retries &+= UInt64(clamping: max(0, requests - 1))
            counters.byStatus[Int(status.rawValue)] &+= 1
            if cacheHit { counters.cacheHits &+= 1 }
            if shared { counters.shared &+= 1 }
            counters.latencySumUs &+= UInt64(clamping: elapsedUs)
            for (index, bound) in Self.bucketsMs.enumerated() where elapsedUs <= Int64(bound) * 1000 {
                counters.buckets[index] &+= 1
            }
        }
    }

    /// A request a queued lookup sent (its lookup is recorded without them).
    func recordRequest(retry: Bool) {
        counters.withLock { counters in
            counters.requests &+= 1
            if retry { counters.retries &+= 1 }
        }
    }

    /// A reservation, counted apart from lookups.
    func recordReservation(_ status: HandoffStatus, requests: Int) {
        counters.withLock { counters in
            counters.reservations &+= 1
            counters.reservationRequests &+= UInt64(clamping: requests)
            counters.reservationsByStatus[Int(status.rawValue)] &+= 1
        }
    }

    /// A warm-up (its connections are in the tally).
    func recordWarmUp() { counters.withLock { $0.warmUps &+= 1 } }

    /// A hedged request sent (it counts as a request), and one that
    /// answered before the request it raced.
    func recordHedge() {
        counters.withLock { counters in
            counters.hedges &+= 1
            counters.requests &+= 1
        }
    }

    func recordHedgeWon() { counters.withLock { $0.hedgeWins &+= 1 } }

    func recordBreakerOpened() { counters.withLock { $0.breakerOpened &+= 1 } }
    func recordRejectedInFlight() { counters.withLock { $0.rejectedInFlight &+= 1 } }

    func snapshot(breakerOpen: Bool, connections: ConnectionCounts = ConnectionCounts()) -> StatsSnapshot {
        var snapshot = StatsSnapshot()
        for stripe in stripes { stripe.withLock { snapshot.add($0) } }
        snapshot.breakerOpen = breakerOpen
        (snapshot.connectionsHTTP1, snapshot.connectionsHTTP2, snapshot.connections) = (connections.http1, connections.http2, connections.total)
        snapshot.connectionsWarmed = connections.warmed
        snapshot.inFlight = UInt64(clamping: InFlightLimit.current)
        return snapshot
    }
}

/// Counter values at one moment, by the names the header documents.
public struct StatsSnapshot: Sendable {
    var lookups: UInt64 = 0
    /// Indexed by status value.
    var byStatus = [UInt64](repeating: 0, count: StatsSnapshot.statusSlots)
    var requests: UInt64 = 0
    var retries: UInt64 = 0
    var cacheHits: UInt64 = 0
    var shared: UInt64 = 0
    var breakerOpened: UInt64 = 0
    var breakerOpen = false
    var inFlight: UInt64 = 0
    var rejectedInFlight: UInt64 = 0
    var latencySumUs: UInt64 = 0
    /// DNI reservations, apart from lookups.
    var reservations: UInt64 = 0
    var reservationRequests: UInt64 = 0
    var reservationsByStatus = [UInt64](repeating: 0, count: StatsSnapshot.statusSlots)
    /// New connections opened (lookups' and reservations'), and those of
    /// them that spoke HTTP/1.x and HTTP/2.
    var connections: UInt64 = 0
    var connectionsHTTP1: UInt64 = 0
    var connectionsHTTP2: UInt64 = 0
    /// handoff_client_warm calls (and warm-ups at creation), and the
    /// connections warm-ups and keep-warm left open for lookups (from the
    /// connection tally).
    var warmUps: UInt64 = 0
    var connectionsWarmed: UInt64 = 0
    /// Hedged requests sent, and those that answered first.
    var hedges: UInt64 = 0
    var hedgeWins: UInt64 = 0
    /// Cumulative: lookups that took at most each of ClientStats.bucketsMs.
    var buckets = [UInt64](repeating: 0, count: ClientStats.bucketsMs.count)

    /// One counter per status value, the highest included.
    static let statusSlots = Int(HandoffStatus.allCases.map(\.rawValue).max() ?? 0) + 1

    func count(of status: HandoffStatus) -> UInt64 { byStatus[Int(status.rawValue)] }

    mutating func add(_ other: StatsSnapshot) {
        lookups &+= other.lookups
        for index in byStatus.indices { byStatus[index] &+= other.byStatus[index] }
        requests &+= other.requests
        retries &+= other.retries
        cacheHits &+= other.cacheHits
        shared &+= other.shared
        breakerOpened &+= other.breakerOpened
        rejectedInFlight &+= other.rejectedInFlight
        latencySumUs &+= other.latencySumUs
        reservations &+= other.reservations
        reservationRequests &+= other.reservationRequests
        warmUps &+= other.warmUps
        hedges &+= other.hedges
        hedgeWins &+= other.hedgeWins
        for index in reservationsByStatus.indices { reservationsByStatus[index] &+= other.reservationsByStatus[index] }
        for index in buckets.indices { buckets[index] &+= other.buckets[index] }
    }

    public func value(named name: String) -> UInt64? {
        switch name {
        case "lookups": return lookups
        case "requests": return requests
        case "retries": return retries
        case "cache_hits": return cacheHits
        case "shared": return shared
        case "breaker_opened": return breakerOpened
        case "breaker_open": return breakerOpen ? 1 : 0
        case "in_flight": return inFlight
        case "rejected_in_flight": return rejectedInFlight
        case "latency_us_sum": return latencySumUs
        case "reservations": return reservations
        case "reservation_requests": return reservationRequests
        case "connections": return connections
        case "connections_http1": return connectionsHTTP1
        case "connections_http2": return connectionsHTTP2
        case "warmups": return warmUps
        case "connections_warmed": return connectionsWarmed
        case "hedges": return hedges
        case "hedge_wins": return hedgeWins
        default: break
        }
        if name.hasPrefix("reservation_status."),
           let status = HandoffStatus.allCases.first(where: { "reservation_status." + $0.nameString == name }) {
            return reservationsByStatus[Int(status.rawValue)]
        }
        if name.hasPrefix("status."), let status = HandoffStatus.allCases.first(where: { "status." + $0.nameString == name }) {
            return count(of: status)
        }
        if name.hasPrefix("latency_le_"), let ms = Int(name.dropFirst("latency_le_".count)),
           let index = ClientStats.bucketsMs.firstIndex(of: ms) {
            return buckets[index]
        }
        return nil
    }

    /// The Prometheus text exposition format.
    public var prometheus: String {
        var out = """
        # HELP polyai_handoff_lookups_total Handoff lookups by final status.
        # TYPE polyai_handoff_lookups_total counter

        """
        for status in HandoffStatus.allCases {
            out += "polyai_handoff_lookups_total{status=\"\(status.nameString)\"} \(count(of: status))\n"
        }
        let counters: [(String, String, UInt64)] = [
            ("requests_total", "HTTP requests sent, retries included.", requests),
            ("retries_total", "Extra attempts after a connection failure or 502/503/504.", retries),
            ("cache_hits_total", "Lookups answered from the cache.", cacheHits),
            ("shared_total", "Lookups answered by another thread's request for the same id.", shared),
            ("breaker_opened_total", "Times the circuit breaker opened.", breakerOpened),
            ("rejected_in_flight_total", "Lookups refused by max_in_flight.", rejectedInFlight),
            ("warmups_total", "Warm-ups (handoff_client_warm, warm_connections).", warmUps),
            ("connections_warmed_total", "Connections warm-ups left open for lookups.", connectionsWarmed),
            ("hedges_total", "Hedged requests sent (hedge_after_ms), also in requests_total.", hedges),
            ("hedge_wins_total", "Hedged requests that answered before the request they raced.", hedgeWins),
        ]
        for (name, help, value) in counters {
            out += "# HELP polyai_handoff_\(name) \(help)\n# TYPE polyai_handoff_\(name) counter\npolyai_handoff_\(name) \(value)\n"
        }
        out += "# HELP polyai_handoff_reservations_total DNI reservations by final status.\n# TYPE polyai_handoff_reservations_total counter\n"
        for status in HandoffStatus.allCases {
            out += "polyai_handoff_reservations_total{status=\"\(status.nameString)\"} \(reservationsByStatus[Int(status.rawValue)])\n"
        }
        out += "# HELP polyai_handoff_reservation_requests_total HTTP requests of DNI reservations.\n# TYPE polyai_handoff_reservation_requests_total counter\n"
        out += "polyai_handoff_reservation_requests_total \(reservationRequests)\n"
        out += "# HELP polyai_handoff_connections_total New connections to the API, by the HTTP version they spoke.\n# TYPE polyai_handoff_connections_total counter\n"
        out += "polyai_handoff_connections_total{protocol=\"http1\"} \(connectionsHTTP1)\n"
        out += "polyai_handoff_connections_total{protocol=\"http2\"} \(connectionsHTTP2)\n"
        out += "polyai_handoff_connections_total{protocol=\"none\"} \(connections &- connectionsHTTP1 &- connectionsHTTP2)\n"
        out += "# HELP polyai_handoff_breaker_open 1 while the circuit breaker is open.\n# TYPE polyai_handoff_breaker_open gauge\n"
        out += "polyai_handoff_breaker_open \(breakerOpen ? 1 : 0)\n"
        out += "# HELP polyai_handoff_in_flight Lookups running now in this process.\n# TYPE polyai_handoff_in_flight gauge\n"
        out += "polyai_handoff_in_flight \(inFlight)\n"
        out += "# HELP polyai_handoff_lookup_seconds Lookup latency.\n# TYPE polyai_handoff_lookup_seconds histogram\n"
        for (index, ms) in ClientStats.bucketsMs.enumerated() {
            out += "polyai_handoff_lookup_seconds_bucket{le=\"\(Self.seconds(ms))\"} \(buckets[index])\n"
        }
        out += "polyai_handoff_lookup_seconds_bucket{le=\"+Inf\"} \(lookups)\n"
        out += "polyai_handoff_lookup_seconds_sum \(latencySumUs / 1_000_000).\(Self.sixDigits(latencySumUs % 1_000_000))\n"
        out += "polyai_handoff_lookup_seconds_count \(lookups)\n"
        return out
    }

    static func seconds(_ ms: Int) -> String {
        "\(ms / 1000).\(String(repeating: "0", count: 3 - String(ms % 1000).count))\(ms % 1000)"
    }

    static func sixDigits(_ value: UInt64) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 6 - text.count)) + text
    }
}
