import Synchronization

/// The object in `slot`, built and published by the first caller; a thread
/// that loses the race frees its own copy and takes the winner's. For the
/// parts of a handle built only when C first asks for them. The slot's
/// owner releases what it holds in its deinit.
func publishedOnce<T: AnyObject>(_ slot: borrowing Atomic<Unmanaged<T>?>, _ build: () -> T) -> T {
    if let existing = slot.load(ordering: .acquiring) { return existing.takeUnretainedValue() }
    let built = Unmanaged.passRetained(build())
    let (exchanged, current) = slot.compareExchange(expected: nil, desired: built, ordering: .acquiringAndReleasing)
    guard !exchanged, let current else { return built.takeUnretainedValue() }
    built.release()
    return current.takeUnretainedValue()
}
