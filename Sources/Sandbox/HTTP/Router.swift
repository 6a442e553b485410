import NIOHTTP1

/// Decides the reply to one request. Checks run in the order the real API
/// documents: route, method, API key, project, query, lookup.
struct Router: Sendable {
    let store: FixtureStore
    let stats: Stats
    /// --delay-ms: added to every handoff_state reply, answers and errors alike.
    var delayMs = 0

    static let statsPath = "/_sandbox/stats"

    /// `connectionCounted` belongs to the caller's connection; it flips on
    /// the first counted request so `connections` counts each connection once.
    func reply(to head: HTTPRequestHead, connectionCounted: inout Bool) -> Reply {
        let target = RequestTarget(uri: head.uri)
        if target.rawPath == Self.statsPath {
            guard head.method == .GET else { return .methodNotAllowed }
            return Reply(status: 200, body: Array(stats.json.utf8))
        }
        stats.recordRequest(firstOnConnection: !connectionCounted)
        connectionCounted = true
        var reply = handoffReply(to: head, target: target)
        reply.delayMs += delayMs
        return reply
    }

    private func handoffReply(to head: HTTPRequestHead, target: RequestTarget) -> Reply {
        guard let segments = target.segments else { return .error(400, "Malformed percent-encoding in path") }
        guard segments.count == 4, segments[0] == "v1", segments[3] == "handoff_state",
              !segments[1].isEmpty, !segments[2].isEmpty
        else { return .error(404, "Not found") }
        guard head.method == .GET else { return .methodNotAllowed }

        guard let key = head.headers["x-api-key"].first, !key.isEmpty else { return .error(401, "Missing API key") }
        guard key == store.file.apiKey else { return .error(403, "Invalid API key") }

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
        guard let reply = store.reply(for: lookup) else { return .error(404, "Handoff state not found") }
        return reply.echoesKey ? reply.echoing(apiKey: key) : reply
    }
}

extension Reply {
    static var methodNotAllowed: Reply {
        var reply = Reply.error(405, "Method not allowed")
        reply.extraHeaders = [HeaderField(name: "Allow", value: "GET")]
        return reply
    }
}
