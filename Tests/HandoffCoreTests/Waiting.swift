import Glibc

/// Polls `condition` every millisecond until it holds or `seconds` have
/// passed, and returns whether it held: tests wait for the state they need
/// (a request arrived, a thread finished) instead of sleeping and hoping.
/// The bound only matters when that state never comes, so it is generous
/// enough for ThreadSanitizer on a loaded machine.
func waitUntil(seconds: Int = 10, _ condition: () -> Bool) -> Bool {
    let end = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now >= end { return false }
        usleep(1_000)
    }
    return true
}
