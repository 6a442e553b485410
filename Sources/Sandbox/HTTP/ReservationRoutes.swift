import NIOHTTP1

/// `POST /v1/conversations/dni-reservation` and the sandbox's DNI endpoints
/// (`/_sandbox/dni-reservations`, `/_sandbox/call`). See docs/sandbox.md.
extension Router {
    static let reservationSegments = ["v1", "conversations", "dni-reservation"]

    /// Checks in order: method, key, size, JSON, attributes, then the
    /// fault for the shared_id, then the pool.
    func reservationReply(to head: HTTPRequestHead, body: RequestBody, desk: ReservationDesk) -> Reply {
        guard head.method == .POST else { return .methodNotAllowed(allowing: "POST") }
        desk.recordRequest()
        guard let key = head.headers["x-api-key"].first, !key.isEmpty else { return .error(401, "Missing API key") }
        guard key == keys.accepted(desk.fixture.apiKey) else { return .error(403, "Invalid API key") }
        guard !body.overflowed else { return .error(413, "Request body is too large") }
        let request: ReservationRequest
        do {
            request = try ReservationRequest.parse(body.bytes)
        } catch {
            return .error(400, error.message)
        }

        let plan = request.sharedID.flatMap { desk.faultPlan(for: $0.value) } ?? ReplyPlan(applying: [])
        // A fault that writes its own body answers without touching the pool;
        // any other (delay, stall, reset, …) shapes the reply to a real
        // reservation, as a server that reserved and then failed would.
        guard plan.rawBody == nil, !plan.echoesKey else {
            let reply = plan.reply(handoffBody: { _ in [] })
            return reply.echoesKey ? reply.echoing(apiKey: key) : reply
        }
        guard let dni = desk.reserve(request) else {
            var reply = plan.reply(handoffBody: { _ in Reply.error(409, Self.exhausted).body })
            reply.status = 409
            return reply
        }
        return plan.reply(handoffBody: { padding in Self.dniBody(dni, padding: padding) })
    }

    static let exhausted = "No DNI available: the pool is exhausted"

    /// `{"dni":"…"}`; `pad_bytes` adds a `"padding"` member, as it does to `data`.
    static func dniBody(_ dni: RawString, padding: Int) -> [UInt8] {
        var out = Array("{\"dni\":".utf8)
        dni.write(into: &out)
        if padding > 0 {
            out += Array(",\"padding\":\"".utf8)
            out += [UInt8](repeating: UInt8(ascii: "x"), count: padding)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// GET lists the live reservations; DELETE returns every number to the pool first.
    func inspectionReply(to head: HTTPRequestHead, desk: ReservationDesk) -> Reply {
        switch head.method {
        case .GET:
            return Reply(status: 200, body: desk.inspectionJSON())
        case .DELETE:
            desk.releaseAll()
            return Reply(status: 200, body: desk.inspectionJSON())
        default:
            return .methodNotAllowed(allowing: "GET, DELETE")
        }
    }

    /// `POST /_sandbox/call?dni=N`: the PBX dialled N.
    func callReply(to head: HTTPRequestHead, target: RequestTarget, desk: ReservationDesk) -> Reply {
        guard head.method == .POST else { return .methodNotAllowed(allowing: "POST") }
        guard target.query != nil else { return .error(400, "Malformed percent-encoding in query") }
        guard let dni = target.parameter("dni"), !dni.isEmpty else { return .error(400, "dni is required") }
        guard let call = desk.call(dni: dni) else { return .error(404, "No live reservation holds that DNI") }
        var out = Array("{\"dni\":".utf8)
        call.dni.write(into: &out)
        out += Array(",\"shared_id\":".utf8)
        if let sharedID = call.sharedID { sharedID.write(into: &out) } else { out += Array("null".utf8) }
        out += Array(",\"id\":".utf8)
        out += Array((call.conversationID.map { "\"\($0)\"" } ?? "null").utf8)
        out.append(UInt8(ascii: "}"))
        return Reply(status: 200, body: out)
    }
}
