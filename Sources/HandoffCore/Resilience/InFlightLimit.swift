import Synchronization

/// Counts lookups running in this process, so that when the API stalls,
/// threads fail fast instead of piling up behind it.
enum InFlightLimit {
    private static let running = Atomic<Int>(0)

    static var current: Int { running.load(ordering: .relaxed) }

    /// Takes a place if fewer than `limit` are taken; pair with `leave()`.
    static func enter(limit: Int) -> Bool {
        let now = running.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        guard now <= limit else {
            running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        return true
    }

    /// In a forked child: the lookups counted were the parent's threads'.
    static func startAfresh() {
        running.store(0, ordering: .relaxed)
    }

    static func leave() {
        running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
    }
}
