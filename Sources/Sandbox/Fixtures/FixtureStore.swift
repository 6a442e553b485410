import Synchronization

/// The fixtures at run time: lookups by id and shared_id, every reply
/// rendered once at load, and the position of every `sequence`, shared by
/// all event loops.
final class FixtureStore: Sendable {
    let file: FixtureFile
    private let byID: [String: Int]
    private let bySharedID: [String: Int]
    /// Per entry, one finished reply per step of its script.
    private let replies: [[Reply]]
    /// Requests seen so far per requested key, only for entries with a sequence.
    private let positions = Mutex<[Key: Int]>([:])

    init(_ file: FixtureFile) {
        self.file = file
        var byID: [String: Int] = [:]
        var bySharedID: [String: Int] = [:]
        for (index, entry) in file.handoffs.enumerated() {
            byID[entry.id.value] = index
            if let sharedID = entry.sharedID { bySharedID[sharedID.value] = index }
        }
        self.byID = byID
        self.bySharedID = bySharedID
        replies = file.handoffs.map { entry in
            entry.script.steps.map { ReplyPlan(applying: $0.faults).reply(handoffBody: entry.body(padding:)) }
        }
    }

    enum Key: Hashable {
        case id(String)
        case sharedID(String)
    }

    /// The reply for the entry `key` names, or nil when there is none. Each
    /// call advances the sequence of that exact key, so every `~` variant
    /// starts its sequence afresh.
    func reply(for key: Key) -> Reply? {
        guard let index = entryIndex(for: key), replies.indices.contains(index) else { return nil }
        let steps = replies[index]
        guard steps.count > 1 else { return steps.first }
        let prior = positions.withLock { positions in
            let seen = positions[key, default: 0]
            positions[key] = seen &+ 1
            return seen
        }
        // After the last step, the last step repeats.
        return steps[min(prior, steps.count - 1)]
    }

    /// An exact match, else `NAME~anything` stands for NAME: tests ask for
    /// distinct ids to get past a client's cache and single flight while
    /// still reaching one fixture.
    private func entryIndex(for key: Key) -> Int? {
        let (table, text) = switch key {
        case .id(let id): (byID, id)
        case .sharedID(let sharedID): (bySharedID, sharedID)
        }
        if let index = table[text] { return index }
        guard let tilde = text.firstIndex(of: "~") else { return nil }
        return table[String(text[..<tilde])]
    }
}
