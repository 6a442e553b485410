import Glibc
import Synchronization
import Testing
@testable import HandoffCore

@Suite struct BreakerTests {
    @Test func opensAtThresholdNotBefore() {
        let breaker = CircuitBreaker(threshold: 3, cooldownMs: 1000)
        let now = ContinuousClock.now
        #expect(breaker.record(.normal, failed: true, now: now) == nil)
        #expect(breaker.record(.normal, failed: true, now: now) == nil)
        #expect(breaker.permit(now: now) == .normal)
        #expect(breaker.record(.normal, failed: true, now: now) == .opened)
        #expect(breaker.permit(now: now) == .rejected)
        #expect(breaker.permit(now: now + .milliseconds(749)) == .rejected, "cooldown jitter is at least 0.75x")
    }

    /// Workers opened by one outage must not all probe at the same moment.
    @Test func cooldownIsJittered() {
        var reopenTimes = Set<Int>()
        let start = ContinuousClock.now
        for _ in 0..<20 {
            let breaker = CircuitBreaker(threshold: 1, cooldownMs: 1000)
            _ = breaker.record(.normal, failed: true, now: start)
            let firstProbe = (750...1250).first { breaker.permit(now: start + .milliseconds($0)) == .probe }
            #expect(firstProbe != nil)
            reopenTimes.insert(firstProbe ?? 0)
        }
        #expect(reopenTimes.count > 5)
    }

    @Test func successResetsTheCount() {
        let breaker = CircuitBreaker(threshold: 2, cooldownMs: 1000)
        _ = breaker.record(.normal, failed: true)
        _ = breaker.record(.normal, failed: false)
        #expect(breaker.record(.normal, failed: true) == nil)
        #expect(breaker.record(.normal, failed: true) == .opened)
    }

    @Test func resetClosesAndForgetsFailures() {
        let breaker = CircuitBreaker(threshold: 2, cooldownMs: 600_000)
        let now = ContinuousClock.now
        _ = breaker.record(.normal, failed: true, now: now)
        #expect(breaker.record(.normal, failed: true, now: now) == .opened)
        #expect(breaker.permit(now: now) == .rejected)
        #expect(breaker.reset())
        #expect(!breaker.isOpen)
        #expect(breaker.permit(now: now) == .normal)
        #expect(breaker.record(.normal, failed: true, now: now) == nil, "the failures before the reset are forgotten")
        #expect(breaker.record(.normal, failed: true, now: now) == .opened)
        #expect(!CircuitBreaker(threshold: 0, cooldownMs: 1).reset(), "off: nothing to close")
    }

    @Test func probeFromBeforeAResetDoesNotDecide() {
        let breaker = CircuitBreaker(threshold: 2, cooldownMs: 100)
        let start = ContinuousClock.now
        _ = breaker.record(.normal, failed: true, now: start)
        _ = breaker.record(.normal, failed: true, now: start)
        let later = start + .milliseconds(125)
        let probe = breaker.permit(now: later)
        #expect(probe == .probe)
        #expect(breaker.reset())
        #expect(breaker.record(probe, failed: true, now: later) == nil, "one failure of two, not a reopening")
        #expect(!breaker.isOpen)
    }

    @Test func oneProbeAfterCooldownDecides() {
        let breaker = CircuitBreaker(threshold: 1, cooldownMs: 100)
        let start = ContinuousClock.now
        #expect(breaker.record(.normal, failed: true, now: start) == .opened)
        let later = start + .milliseconds(125)
        #expect(breaker.permit(now: later) == .probe)
        #expect(breaker.permit(now: later) == .rejected, "only one probe at a time")
        #expect(breaker.record(.probe, failed: true, now: later) == .reopened)
        #expect(breaker.permit(now: later + .milliseconds(50)) == .rejected)
        let again = later + .milliseconds(125)
        #expect(breaker.permit(now: again) == .probe)
        #expect(breaker.record(.probe, failed: false, now: again) == .closed)
        #expect(breaker.permit(now: again) == .normal)
        #expect(!breaker.isOpen)
    }

    @Test func thresholdZeroIsOff() {
        let breaker = CircuitBreaker(threshold: 0, cooldownMs: 100)
        for _ in 0..<100 { #expect(breaker.record(.normal, failed: true) == nil) }
        #expect(breaker.permit() == .normal)
    }
}

@Suite struct CacheTests {
    func result(_ tag: String) -> HandoffResult {
        var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
        outcome.conversationID = tag
        return Renderer(options: RenderOptions()).result(outcome)
    }

    @Test func expiresAfterTTL() {
        let cache = ResultCache(ttlMs: 100, capacity: 10)
        let now = ContinuousClock.now
        cache.put(.sharedID("a"), result("a"), now: now)
        #expect(cache.get(.sharedID("a"), now: now + .milliseconds(99))?.conversationID == "a")
        #expect(cache.get(.sharedID("a"), now: now + .milliseconds(100)) == nil)
        #expect(cache.get(.conversationID("a"), now: now) == nil, "ids of different kinds never mix")
    }

    @Test func capacityBoundaryEvictsOldest() {
        let cache = ResultCache(ttlMs: 10_000, capacity: 3)
        for id in ["a", "b", "c"] { cache.put(.sharedID(id), result(id)) }
        #expect(cache.count == 3)
        #expect(cache.get(.sharedID("a")) != nil)
        cache.put(.sharedID("d"), result("d"))
        #expect(cache.count == 3)
        #expect(cache.get(.sharedID("a")) == nil)
        #expect(cache.get(.sharedID("d")) != nil)
    }

    @Test func manyInsertionsStayBounded() {
        let cache = ResultCache(ttlMs: 10_000, capacity: 50)
        for index in 0..<10_000 { cache.put(.sharedID(String(index)), result("x")) }
        #expect(cache.count == 50)
        #expect(cache.get(.sharedID("9999")) != nil)
    }
}

@Suite struct LimitTests {
    @Test func backoffStaysInItsRange() {
        for attempt in 0..<4 {
            let base = Limits.retryBackoffBaseMs << attempt
            for _ in 0..<200 {
                let wait = HandoffClient.backoffMs(attempt: attempt)
                #expect(wait >= base / 2 && wait < base / 2 + base)
            }
        }
    }

    @Test func statsNamesAndPrometheus() {
        let stats = ClientStats()
        stats.recordLookup(.ok, elapsedUs: 1000, requests: 1)
        stats.recordLookup(.timeout, elapsedUs: 1001, requests: 2)
        let snapshot = stats.snapshot(breakerOpen: true)
        #expect(snapshot.value(named: "lookups") == 2)
        #expect(snapshot.value(named: "status.ok") == 1)
        #expect(snapshot.value(named: "status.timeout") == 1)
        #expect(snapshot.value(named: "status.unavailable") == 0)
        #expect(snapshot.value(named: "retries") == 1, "the second attempt of the timed-out lookup")
        #expect(snapshot.value(named: "requests") == 3)
        #expect(snapshot.value(named: "latency_le_1") == 1, "1000 us is at most 1 ms; 1001 us is not")
        #expect(snapshot.value(named: "latency_le_2") == 2)
        #expect(snapshot.value(named: "latency_us_sum") == 2001)
        #expect(snapshot.value(named: "breaker_open") == 1)
        #expect(snapshot.value(named: "nonsense") == nil)
        let text = snapshot.prometheus
        #expect(text.contains("polyai_handoff_lookups_total{status=\"timeout\"} 1\n"))
        #expect(text.contains("polyai_handoff_lookup_seconds_bucket{le=\"0.001\"} 1\n"))
        #expect(text.contains("polyai_handoff_lookup_seconds_bucket{le=\"10.000\"} 2\n"))
        #expect(text.contains("polyai_handoff_lookup_seconds_bucket{le=\"+Inf\"} 2\n"))
        #expect(text.contains("polyai_handoff_lookup_seconds_sum 0.002001\n"))
    }
}

/// The client against a real loopback server. Serialized, and the only suite
/// that runs lookups: the in-flight count is process-wide, so the tests that
/// read it (and the lookups that move it) must not overlap, and every lookup
/// a test starts on another thread has finished before the test ends.
@Suite(.serialized) struct ClientTests {
    func client(_ server: ScriptedServer, _ settings: [String: String] = [:]) throws -> HandoffClient {
        var config = HandoffConfig()
        let base = ["base_url": server.baseURL, "account_id": "acme", "project_id": "P", "api_key": "k"]
        try config.apply(base.merging(settings) { $1 }.map { ($0.key, $0.value, "test") })
        return try HandoffClient(config: config)
    }

    @Test func inFlightBoundary() {
        #expect(InFlightLimit.current == 0, "no lookup runs while this test does")
        let limit = 2
        #expect(InFlightLimit.enter(limit: limit))
        #expect(InFlightLimit.enter(limit: limit))
        #expect(!InFlightLimit.enter(limit: limit))
        InFlightLimit.leave()
        #expect(InFlightLimit.enter(limit: limit))
        InFlightLimit.leave()
        InFlightLimit.leave()
        #expect(InFlightLimit.current == 0)
    }

    /// Regression: lookups refused for a bad id were not counted.
    @Test func refusedLookupsAreCounted() throws {
        let server = ScriptedServer([.init()])
        defer { server.stop() }
        let client = try client(server)
        #expect(client.lookup([], as: .sharedID).status == .invalidArgument)
        #expect(client.statistics().value(named: "lookups") == 1)
        #expect(client.statistics().value(named: "status.invalid_argument") == 1)
        #expect(server.requests == 0)
    }

    @Test func keepAliveReusesOneConnection() throws {
        let server = ScriptedServer([.init()])
        defer { server.stop() }
        let client = try client(server)
        for _ in 0..<20 { #expect(client.lookup(.sharedID("s-1")).status == .ok) }
        #expect(server.requests == 20)
        #expect(server.connections == 1)
    }

    @Test func retriesA503InsideTheDeadline() throws {
        let server = ScriptedServer([.init(status: 503, body: "{}"), .init()])
        defer { server.stop() }
        let client = try client(server)
        #expect(client.lookup(.sharedID("s-1")).status == .ok)
        #expect(client.statistics().value(named: "retries") == 1)
        #expect(server.requests == 2)
    }

    @Test func neverRetriesA4xxOrWithRetriesZero() throws {
        let server = ScriptedServer([.init(status: 404, body: #"{"error_message":"nope"}"#)])
        defer { server.stop() }
        #expect(try client(server).lookup(.sharedID("s-1")).status == .notFound)
        #expect(server.requests == 1)
        let failing = ScriptedServer([.init(status: 502, body: "{}")])
        defer { failing.stop() }
        #expect(try client(failing, ["retries": "0"]).lookup(.sharedID("s-1")).status == .serverError)
        #expect(failing.requests == 1)
    }

    @Test func breakerFailsFastThenProbes() throws {
        let server = ScriptedServer([.init(status: 500, body: "{}"), .init(status: 500, body: "{}"), .init()])
        defer { server.stop() }
        // A cooldown of at least 2,250 ms (jitter 0.75x) outlasts the lookups
        // below it even under ThreadSanitizer on a loaded machine; 1.25x of
        // it is 3,750 ms.
        let cooldownMs = 3000
        let client = try client(server, ["breaker_failures": "2", "breaker_cooldown_ms": String(cooldownMs),
                                         "retries": "0", "timeout_ms": "10000"])
        #expect(client.lookup(.sharedID("s-1")).status == .serverError)
        #expect(client.lookup(.sharedID("s-1")).status == .serverError)
        let fast = client.lookup(.sharedID("s-1"))
        #expect(fast.status == .unavailable)
        // Fails fast: no request (the count below) and no wait for the
        // deadline (10 s) or the cooldown (2.25 s at least), with room for a
        // sanitizer.
        #expect(fast.elapsedUs < 1_000_000, "fails fast: \(fast.elapsedUs) us")
        #expect(fast.rendered().headerBlock.hasPrefix("X-PolyAI-Handoff-Status: unavailable\r\n"))
        #expect(server.requests == 2)
        // Past the longest jittered cooldown: a wait for time itself, not for another thread.
        usleep(UInt32(cooldownMs * 5 / 4 + 100) * 1000)
        #expect(client.lookup(.sharedID("s-1")).status == .ok, "the probe closes the breaker")
        #expect(client.lookup(.sharedID("s-1")).status == .ok)
        #expect(server.requests == 4)
        #expect(client.statistics().value(named: "breaker_opened") == 1)
    }

    @Test func cacheAnswersRepeatLookups() throws {
        let server = ScriptedServer([.init()])
        defer { server.stop() }
        let client = try client(server, ["cache_ttl_ms": "60000"])
        for _ in 0..<5 { #expect(client.lookup(.sharedID("s-1")).status == .ok) }
        #expect(server.requests == 1)
        #expect(client.statistics().value(named: "cache_hits") == 4)
    }

    @Test func concurrentLookupsOfOneIdShareOneRequest() throws {
        // The server holds its answer until every thread is in its lookup.
        let server = ScriptedServer([.init(held: true), .init()])
        defer { server.stop() }
        let client = try client(server, ["timeout_ms": "30000"])
        // Locked, a class: a local Mutex captured by escaping closures is a
        // boxed variable that ThreadSanitizer sees modified from every thread.
        let statuses = Locked<[HandoffStatus]>([])
        let threads = 8
        let done = Atomic<Int>(0)
        for _ in 0..<threads {
            ScriptedServer.spawn {
                let status = client.lookup(.sharedID("s-1")).status
                statuses.withLock { $0.append(status) }
                done.add(1, ordering: .releasing)
            }
        }
        // The leader's request has arrived and waits on the server, and every
        // other lookup has joined its flight. (Their in-flight places are
        // taken just before they join: waiting for those alone let the last
        // thread join after the answer, and ask again — a CI flake.)
        let target = LookupTarget.sharedID("s-1")
        #expect(waitUntil {
            server.requests == 1 && client.runtime.value.flights.followers(of: target) == threads - 1
        })
        server.release()
        #expect(waitUntil { done.load(ordering: .acquiring) == threads })
        #expect(statuses.withLock { $0 } == Array(repeating: .ok, count: threads))
        #expect(server.requests == 1)
        #expect(client.statistics().value(named: "shared") == UInt64(threads - 1))
    }

    /// Regression: a follower took its leader's timeout even when its own
    /// deadline was later and the answer was on its way.
    @Test func followerOutlivesALeaderWithAShorterDeadline() throws {
        // The leader's request is held past its deadline; the next is answered at once.
        let server = ScriptedServer([.init(held: true), .init()])
        defer { server.stop() }
        let client = try client(server)
        let leader = Locked<HandoffStatus?>(nil)
        let follower = Locked<(status: HandoffStatus, end: ContinuousClock.Instant, elapsedUs: Int64)?>(nil)
        // Taken before the leader's lookup starts: its deadline is at least a second after.
        let leaderStarted = Locked<ContinuousClock.Instant?>(nil)
        ScriptedServer.spawn {
            leaderStarted.withLock { $0 = ContinuousClock.now }
            let status = client.lookup(.sharedID("s-1"), timeoutMs: 1000).status
            leader.withLock { $0 = status }
        }
        // The leader's request has reached the server.
        #expect(waitUntil { server.requests == 1 })
        ScriptedServer.spawn {
            let result = client.lookup(.sharedID("s-1"), timeoutMs: 10_000)
            follower.withLock { $0 = (result.status, ContinuousClock.now, result.elapsedUs) }
        }
        // The follower has joined the leader's flight, which is still in
        // progress: had the leader ended first, the follower would lead a
        // flight of its own, with no follower, and this would never hold.
        #expect(waitUntil { client.runtime.value.flights.followers(of: .sharedID("s-1")) == 1 },
                "the follower joined the leader's flight")
        #expect(waitUntil { leader.withLock { $0 } != nil && follower.withLock { $0 } != nil })
        server.release()
        let led = leader.withLock { $0 }, followed = follower.withLock { $0 }
        #expect(led == .timeout)
        #expect(followed?.status == .ok)
        // It waited for the leader (had it asked on its own, the answer would
        // have come at once), then asked again for itself once the leader
        // gave up, at its deadline.
        if let started = leaderStarted.withLock({ $0 }), let followed {
            #expect(followed.end >= started + .milliseconds(1000), "the follower ended \(followed.end - started) after the leader started")
        }
        #expect(server.requests == 2)
        #expect((followed?.elapsedUs ?? .max) < 5_000_000, "\(followed?.elapsedUs ?? -1) us")
    }

    @Test func slowServerTimesOutOnTime() throws {
        // Held until stop(): the answer can never come before the deadline.
        let server = ScriptedServer([.init(held: true)])
        defer { server.stop() }
        let result = try client(server).lookup(.sharedID("s-1"), timeoutMs: 200)
        #expect(result.status == .timeout)
        // Not before the deadline; well before 2 s, with room for ThreadSanitizer.
        #expect(result.elapsedUs >= 200_000 && result.elapsedUs < 2_000_000, "\(result.elapsedUs) us")
    }

    @Test func maxInFlightFailsFast() throws {
        let server = ScriptedServer([.init(held: true)])
        defer { server.stop() }
        #expect(InFlightLimit.current == 0, "no lookup runs while this test does")
        let client = try client(server, ["max_in_flight": "1"])
        let done = Atomic<Bool>(false)
        ScriptedServer.spawn {
            _ = client.lookup(.sharedID("slow"))
            done.store(true, ordering: .releasing)
        }
        // The slow lookup holds the one place: its request waits on the server.
        #expect(waitUntil { server.requests == 1 })
        let refused = client.lookup(.sharedID("other"))
        #expect(refused.status == .unavailable)
        #expect(refused.errorMessage.contains("max_in_flight"))
        #expect(server.requests == 1)
        server.release()
        #expect(waitUntil { done.load(ordering: .acquiring) })
        #expect(client.statistics().value(named: "rejected_in_flight") == 1)
    }
}
