import NIOHTTP1

/// Decides the reply to one request. For each endpoint, checks run in the
/// order the real API applies them: route, method, API key, then what the
/// endpoint itself reads (project, query, lookup; or body, attributes, pool).
struct Router: Sendable {
    let store: FixtureStore
    let stats: Stats
    let keys = AcceptedKeys()
    /// The DNI pool; nil when the fixtures have no `dni_reservation`, and
    /// then the reservation and `/_sandbox/` DNI paths are unknown paths.
    var desk: ReservationDesk?
    /// --delay-ms: added to every API reply (lookups and reservations),
    /// answers and errors alike.
    var delayMs = 0

    static let statsPath = "/_sandbox/stats"
    static let reservationsPath = "/_sandbox/dni-reservations"
    static let callPath = "/_sandbox/call"
    static let apiKeyPath = "/_sandbox/api-key"

    /// `connectionCounted` belongs to the caller's connection; it flips on
    /// the first counted request so `connections` counts each connection once.
    func reply(to head: HTTPRequestHead, body: RequestBody, connectionCounted: inout Bool) -> Reply {
        let target = RequestTarget(uri: head.uri)
        if let reply = controlReply(to: head, target: target) { return reply }
        stats.recordRequest(firstOnConnection: !connectionCounted)
        connectionCounted = true
        var reply = apiReply(to: head, target: target, body: body)
        reply.delayMs += delayMs
        return reply
    }

    /// The sandbox's own endpoints: no key, not counted in the stats, never
    /// delayed. nil for every other path.
    private func controlReply(to head: HTTPRequestHead, target: RequestTarget) -> Reply? {
        switch target.rawPath {
        case Self.statsPath:
            guard head.method == .GET else { return .methodNotAllowed(allowing: "GET") }
            return Reply(status: 200, body: Array(stats.json.utf8))
        case Self.reservationsPath:
            return desk.map { inspectionReply(to: head, desk: $0) }
        case Self.callPath:
            return desk.map { callReply(to: head, target: target, desk: $0) }
        case Self.apiKeyPath:
            guard head.method == .POST else { return .methodNotAllowed(allowing: "POST") }
            guard let key = target.parameter("key"), !key.isEmpty else { return .error(400, "key must be given") }
            keys.rotate(to: key)
            return Reply(status: 204, body: [])
        default:
            return nil
        }
    }

    private func apiReply(to head: HTTPRequestHead, target: RequestTarget, body: RequestBody) -> Reply {
        guard let segments = target.segments else { return .error(400, "Malformed percent-encoding in path") }
        if let desk, segments == Self.reservationSegments {
            return reservationReply(to: head, body: body, desk: desk)
        }
        return handoffReply(to: head, target: target, segments: segments)
    }

    private func handoffReply(to head: HTTPRequestHead, target: RequestTarget, segments: [String]) -> Reply {
        guard segments.count == 4, segments[0] == "v1", segments[3] == "handoff_state",
              !segments[1].isEmpty, !segments[2].isEmpty
        else { return .error(404, "Not found") }
        guard head.method == .GET else { return .methodNotAllowed(allowing: "GET") }

        guard let key = head.headers["x-api-key"].first, !key.isEmpty else { return .error(401, "Missing API key") }
        guard key == keys.accepted(store.file.apiKey) else { return .error(403, "Invalid API key") }

        let file = store.file
        if let accountID = file.accountID, accountID != segments[1] { return .error(404, "Project not found") }
        if let projectID = file.projectID, projectID != segments[2] { return .error(404, "Project not found") }

        guard target.query != nil else { return .error(400, "Malformed percent-encoding in query") }
        // shared_id wins when both are given, as the API documents.
        let lookup: FixtureStore.Key
        if let sharedID = target.parameter("shared_id"), !sharedID.isEmpty {
            lookup = .sharedID(sharedID)
        } else if let id = target.parameter("id"), !id.isEmpty {
            lookup = .id(id)
        } else {
            return .error(400, "Either id or shared_id must be provided")
        }
        // The fixtures first: a call never changes what a fixture answers.
        if let reply = store.reply(for: lookup) {
            return reply.echoesKey ? reply.echoing(apiKey: key) : reply
        }
        if let body = desk?.handoffBody(for: lookup) { return Reply(status: 200, body: body) }
        return .error(404, "Handoff state not found")
    }
}

extension Reply {
    static func methodNotAllowed(allowing methods: String) -> Reply {
        var reply = Reply.error(405, "Method not allowed")
        reply.extraHeaders = [HeaderField(name: "Allow", value: methods)]
        return reply
    }
}
