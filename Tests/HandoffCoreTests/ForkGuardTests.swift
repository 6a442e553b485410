#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import HandoffCore

/// Serialized: each test's threads would hold up the other's forks. Not
/// under a sanitizer: ThreadSanitizer's fork() in a process with running
/// threads took 141 s once and hung the next time (its own locks); the C
/// ABI fork tests cover the sanitized library instead.
@Suite(.serialized) struct ForkGuardTests {
    /// True in a process built with a sanitizer, whose runtime exports these.
    static let sanitized: Bool = ["__tsan_init", "__asan_init"].contains { (name: String) in
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) != nil
    }

    /// Forks begun in this process, counted by a prepare handler that runs
    /// before ForkGuard's: prepare handlers run in the reverse order of
    /// their registration, and ForkGuard's are registered first.
    static let forksBegun = Atomic<Int>(0)
    static let countingForks: Bool = {
        _ = ForkGeneration.current
        _ = forksBegun.load(ordering: .relaxed)
        return pthread_atfork({ ForkGuardTests.forksBegun.wrappingAdd(1, ordering: .sequentiallyConsistent) }, nil, nil) == 0
    }()

    /// A fork() waits for a call inside `sheltered` (a libcurl step that may
    /// hold an OpenSSL lock), and the child finds no call in progress. The
    /// call stays inside until the fork has begun, then 300 ms more: the
    /// fork always comes while it is inside, however late this thread gets to it.
    @Test(.disabled(if: ForkGuardTests.sanitized, "fork() with running threads under a sanitizer"))
    func forkWaitsForShelteredWork() {
        #expect(Self.countingForks)
        let begun = Self.forksBegun.load(ordering: .sequentiallyConsistent)
        let inside = Atomic<Bool>(false)
        let left = Atomic<Bool>(false)
        let thread = LibraryThread.start(name: "sheltered-test") {
            ForkGuard.sheltered {
                inside.store(true, ordering: .sequentiallyConsistent)
                _ = waitUntil { Self.forksBegun.load(ordering: .sequentiallyConsistent) > begun }
                HandoffClient.sleep(milliseconds: 300)
                left.store(true, ordering: .sequentiallyConsistent)
            }
        }
        #expect(thread != nil)
        while !inside.load(ordering: .sequentiallyConsistent) { HandoffClient.sleep(milliseconds: 1) }
        let started = ContinuousClock.now
        let child = fork()
        if child == 0 {
            // In the child: no call of the parent's was in progress at the
            // fork, and a sheltered call of its own must not wait.
            let entered = ForkGuard.sheltered { true }
            _exit(ForkGuard.shelteredAtFork == 0 && entered ? 0 : 1)
        }
        let waited = ContinuousClock.now - started
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        #expect(status == 0)
        let ended = left.load(ordering: .sequentiallyConsistent)
        #expect(ended, "fork() returned while the sheltered call was inside")
        #expect(waited >= .milliseconds(300), "fork() returned after \(waited)")
        if let thread { pthread_join(thread, nil) }
    }

    /// Two threads forking at once while another keeps making sheltered
    /// calls: no child may be forked with one of them in progress. (With a
    /// flag instead of a count, the first fork's parent handler let calls
    /// start while the second thread was still forking.)
    @Test(.disabled(if: ForkGuardTests.sanitized, "fork() with running threads under a sanitizer"))
    func simultaneousForksFindNoShelteredCall() {
        let stop = Atomic<Bool>(false)
        let worker = LibraryThread.start(name: "sheltering") {
            while !stop.load(ordering: .relaxed) { ForkGuard.sheltered { for _ in 0..<200 { _ = ContinuousClock.now } } }
        }
        let caught = Atomic<Int>(0)
        for _ in 0..<60 {
            let forkers = (0..<2).compactMap { _ in
                LibraryThread.start(name: "forker") {
                    let child = fork()
                    if child == 0 { _exit(ForkGuard.shelteredAtFork == 0 ? 0 : 1) }
                    var status: Int32 = 0
                    waitpid(child, &status, 0)
                    if status != 0 { caught.wrappingAdd(1, ordering: .relaxed) }
                }
            }
            for thread in forkers { pthread_join(thread, nil) }
        }
        stop.store(true, ordering: .relaxed)
        if let worker { pthread_join(worker, nil) }
        #expect(caught.load(ordering: .relaxed) == 0)
    }

    @Test func nestedShelteredCallsPassThrough() {
        let value = ForkGuard.sheltered { ForkGuard.sheltered { 42 } }
        #expect(value == 42)
    }
}

@Suite struct TimerHeapTests {
    @Test func popsInDueOrderThenPushOrder() {
        var heap = TimerHeap<Int>()
        let now = ContinuousClock.now
        let dues = [50, 10, 30, 10, 70, 0, 30, 20]
        for (index, offset) in dues.enumerated() { heap.push(index, due: now.advanced(by: .milliseconds(offset))) }
        #expect(heap.count == dues.count)
        #expect(heap.nextDue == now)
        // Only what is due by +25 ms pops.
        var popped: [Int] = []
        while let value = heap.popDue(at: now.advanced(by: .milliseconds(25))) { popped.append(value) }
        #expect(popped == [5, 1, 3, 7])
        while let value = heap.popDue(at: now.advanced(by: .seconds(1))) { popped.append(value) }
        #expect(popped == [5, 1, 3, 7, 2, 6, 0, 4])
        #expect(heap.isEmpty)
        #expect(heap.popDue(at: now.advanced(by: .seconds(10))) == nil)
    }

    @Test func manyRandomTimersComeOutSorted() {
        var heap = TimerHeap<Int>()
        let now = ContinuousClock.now
        var offsets: [Int] = []
        for index in 0..<2000 {
            let offset = Int.random(in: 0..<500)
            offsets.append(offset)
            heap.push(index, due: now.advanced(by: .milliseconds(offset)))
        }
        var last = -1
        var count = 0
        while let index = heap.popDue(at: now.advanced(by: .seconds(1))) {
            #expect(offsets[index] >= last)
            last = offsets[index]
            count += 1
        }
        #expect(count == 2000)
    }
}
