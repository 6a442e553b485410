import Synchronization

/// The DNI pool at run time, shared by all event loops: live reservations,
/// the handoff states the sandbox made playing the agent, the position of
/// every fault `sequence`, and the request count. Expiry and the agent's
/// timed calls are applied lazily, whenever a request looks, so no timer
/// can race a test that polls.
final class ReservationDesk: Sendable {
    let fixture: DNIReservationFixture
    /// Per fault shared_id, one plan per step of its script.
    private let faultPlans: [String: [ReplyPlan]]
    private let state = Mutex(State())
    private let clock = ContinuousClock()

    init(_ fixture: DNIReservationFixture) {
        self.fixture = fixture
        var plans: [String: [ReplyPlan]] = [:]
        for entry in fixture.faults {
            plans[entry.sharedID.value] = entry.script.steps.map { ReplyPlan(applying: $0.faults) }
        }
        faultPlans = plans
    }

    struct Reservation: Sendable {
        /// The number's index in the pool.
        let slot: Int
        let sharedID: RawString?
        /// Exactly as received, shared_id included.
        let attributes: RawJSON
        let expires: ContinuousClock.Instant
        /// When the agent calls by itself (`agent.after_ms`); never after `expires`.
        let autoCall: ContinuousClock.Instant?
        /// Set once called, when the call made a handoff state.
        var conversationID: String?
        var called = false
    }

    /// A handoff state made by a call: the finished 200 body of a lookup.
    struct AgentHandoff: Sendable {
        let body: [UInt8]
    }

    private struct State {
        /// Oldest first.
        var reservations: [Reservation] = []
        var requests = 0
        var positions: [String: Int] = [:]
        var handoffsBySharedID: [String: AgentHandoff] = [:]
        var handoffsByID: [String: AgentHandoff] = [:]
    }

    /// Counts one POST to the reservation endpoint, whatever its answer.
    func recordRequest() {
        state.withLock { $0.requests &+= 1 }
    }

    /// The fault planned for this shared_id, advancing its sequence, or nil.
    /// As for lookups, `NAME~ANYTHING` stands for `NAME` when it is not
    /// itself an entry, and each variant keeps its own sequence position.
    func faultPlan(for sharedID: String) -> ReplyPlan? {
        var steps = faultPlans[sharedID]
        if steps == nil, let tilde = sharedID.firstIndex(of: "~") {
            steps = faultPlans[String(sharedID[..<tilde])]
        }
        guard let steps, let first = steps.first else { return nil }
        guard steps.count > 1 else { return first }
        let prior = state.withLock { state in
            let seen = state.positions[sharedID, default: 0]
            state.positions[sharedID] = seen &+ 1
            return seen
        }
        return steps[min(prior, steps.count - 1)]
    }

    /// A number for this request, or nil when the pool is exhausted. A
    /// shared_id with a live reservation gets that reservation's number
    /// again; the reservation itself (attributes, expiry) stays as it was.
    func reserve(_ request: ReservationRequest) -> RawString? {
        let now = clock.now
        return state.withLock { state -> RawString? in
            sweep(&state, now: now)
            if let sharedID = request.sharedID?.value,
               let live = state.reservations.first(where: { $0.sharedID?.value == sharedID }) {
                return fixture.pool[live.slot]
            }
            let taken = Set(state.reservations.map(\.slot))
            guard let slot = fixture.pool.indices.first(where: { !taken.contains($0) }) else { return nil }
            state.reservations.append(Reservation(
                slot: slot,
                sharedID: request.sharedID,
                attributes: request.attributes,
                expires: now.advanced(by: .milliseconds(fixture.expireMs)),
                autoCall: fixture.agent?.afterMs.map { now.advanced(by: .milliseconds($0)) }
            ))
            // after_ms 0: called at once.
            sweep(&state, now: now)
            return fixture.pool[slot]
        }
    }

    struct Call: Sendable {
        let dni: RawString
        let sharedID: RawString?
        /// The handoff state's id; nil when no state was made (no agent, or no shared_id).
        let conversationID: String?
    }

    /// `POST /_sandbox/call?dni=`: the PBX dialled the number. Nil when no
    /// live reservation holds it. Calling again changes nothing.
    func call(dni: String) -> Call? {
        let now = clock.now
        return state.withLock { state -> Call? in
            sweep(&state, now: now)
            guard let index = state.reservations.firstIndex(where: { fixture.pool[$0.slot].value == dni }) else {
                return nil
            }
            markCalled(&state, index)
            let reservation = state.reservations[index]
            return Call(dni: fixture.pool[reservation.slot], sharedID: reservation.sharedID, conversationID: reservation.conversationID)
        }
    }

    /// The 200 body of a handoff state a call made, by shared_id or id
    /// (exact match only), or nil.
    func handoffBody(for key: FixtureStore.Key) -> [UInt8]? {
        guard fixture.agent != nil else { return nil }
        let now = clock.now
        return state.withLock { state -> [UInt8]? in
            sweep(&state, now: now)
            switch key {
            case .sharedID(let sharedID): return state.handoffsBySharedID[sharedID]?.body
            case .id(let id): return state.handoffsByID[id]?.body
            }
        }
    }

    /// Returns every number to the pool. Handoff states already made stay.
    func releaseAll() {
        state.withLock { $0.reservations.removeAll() }
    }

    /// `GET /_sandbox/dni-reservations`. `requests` comes first so that a
    /// reader looking for the first `"requests"` never finds an attribute.
    func inspectionJSON() -> [UInt8] {
        let now = clock.now
        return state.withLock { state -> [UInt8] in
            sweep(&state, now: now)
            var out = Array("{\"requests\":\(state.requests),\"reservations\":[".utf8)
            for (index, reservation) in state.reservations.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += Array("{\"shared_id\":".utf8)
                if let sharedID = reservation.sharedID { sharedID.write(into: &out) } else { out += Array("null".utf8) }
                out += Array(",\"dni\":".utf8)
                fixture.pool[reservation.slot].write(into: &out)
                out += Array(",\"attributes\":".utf8)
                reservation.attributes.write(into: &out)
                out += Array(",\"expires_in_ms\":\(Self.ceilingMilliseconds(reservation.expires - now)),\"called\":\(reservation.called)}".utf8)
            }
            out += Array("]}".utf8)
            return out
        }
    }

    /// Applies what has come due by `now`: the agent's timed calls first (a
    /// call due at the very moment of expiry still happens), then expiry.
    private func sweep(_ state: inout State, now: ContinuousClock.Instant) {
        for index in state.reservations.indices {
            if let due = state.reservations[index].autoCall, due <= now { markCalled(&state, index) }
        }
        state.reservations.removeAll { $0.expires <= now }
    }

    /// Marks a reservation called and, when the sandbox plays the agent and
    /// the reservation has a shared_id, makes its handoff state.
    private func markCalled(_ state: inout State, _ index: Int) {
        guard !state.reservations[index].called else { return }
        state.reservations[index].called = true
        guard let agent = fixture.agent, let sharedID = state.reservations[index].sharedID else { return }
        let id = Self.conversationID()
        let handoff = AgentHandoff(body: Self.handoffBody(
            id: id, sharedID: sharedID, attributes: state.reservations[index].attributes, agentData: agent.data
        ))
        state.reservations[index].conversationID = id
        state.handoffsBySharedID[sharedID.value] = handoff
        state.handoffsByID[id] = handoff
    }

    /// `{"id":…,"shared_id":…,"data":{…}}`: the attributes without
    /// shared_id, in their order, then `agent.data`, which wins over an
    /// attribute of the same name.
    static func handoffBody(id: String, sharedID: RawString, attributes: RawJSON, agentData: [RawMember]) -> [UInt8] {
        let agentKeys = Set(agentData.map(\.key.value))
        var members: [RawMember] = []
        if case .object(let fields) = attributes {
            members = fields.filter { $0.key.value != "shared_id" && !agentKeys.contains($0.key.value) }
        }
        members += agentData
        var out = Array("{\"id\":\"\(id)\",\"shared_id\":".utf8)
        sharedID.write(into: &out)
        out += Array(",\"data\":".utf8)
        RawJSON.object(members).write(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A random version 4 UUID, lower case, as PolyAI's conversation ids look.
    static func conversationID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { text.append(UInt8(ascii: "-")) }
            text += [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whole milliseconds, rounded up, so a live reservation never shows 0.
    static func ceilingMilliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let rest = attoseconds % perMillisecond > 0 ? 1 : 0
        return Int(seconds) &* 1000 &+ Int(attoseconds / perMillisecond) &+ rest
    }
}
