/// DNI reservations: `POST /v1/conversations/dni-reservation` with the
/// caller's attributes and the call's shared id, before the PBX dials the
/// number to reach the agent. The same deadline, breaker and in-flight cap
/// as lookups; never cached, never shared between callers (each reserves a
/// number of its own), and sent again only when it certainly never left.
extension HandoffClient {
    /// `sharedID` raw caller bytes (nil: C's NULL); `attributes` a JSON
    /// object or nil/empty; `timeoutMs` <= 0 or nil: the configured timeout.
    public func reserveDNI(sharedID: [UInt8]?, attributes: [UInt8]?, timeoutMs: Int? = nil) -> DNIReservation {
        let started = ContinuousClock.now
        guard let sharedID else { return refusedReservation("shared_id is NULL") }
        let id: String
        switch LookupTarget.validated(sharedID, as: .sharedID) {
        case .failure(let error): return refusedReservation(error.message)
        case .success(let target):
            guard case .sharedID(let text) = target else { return refusedReservation("shared_id is invalid") }
            id = text
        }
        guard let timeout = effectiveTimeout(timeoutMs) else { return refusedReservation(Self.timeoutRefusal(timeoutMs)) }
        let body: [UInt8]
        switch ReservationAttributes.body(sharedID: id, json: attributes) {
        case .failure(let error): return refusedReservation(error.message)
        case .success(let bytes): body = bytes
        }
        var requests = 0
        var reservation = runtime.withValue { live in
            send(body, sharedID: id, live, deadline: Deadline(milliseconds: timeout, from: started), timeoutMs: timeout, requests: &requests)
        }
        reservation.elapsedUs = Self.microseconds(since: started)
        runtime.value.stats.recordReservation(reservation.status, requests: requests)
        if reservation.status == .ok {
            log(.debug, "reserve_dni shared_id=\(id): ok (\(reservation.elapsedUs / 1000) ms)")
        } else {
            log(.warning, "reserve_dni shared_id=\(id): \(reservation.status.nameString) \(reservation.errorMessage) (\(reservation.elapsedUs / 1000) ms)")
        }
        return reservation
    }

    private func send(_ body: [UInt8], sharedID: String, _ live: ClientRuntime, deadline: Deadline, timeoutMs: Int,
                      requests: inout Int) -> DNIReservation {
        // The in-flight place first, as lookups take it: a breaker permit is
        // a probe once the cooldown is over, and a probe taken and never
        // recorded (refused by max_in_flight) kept the breaker open for good.
        guard InFlightLimit.enter(limit: config.maxInFlight) else {
            live.stats.recordRejectedInFlight()
            return finished(inFlightRefusal())
        }
        let generation = ForkGeneration.current
        defer { if ForkGeneration.current == generation { InFlightLimit.leave() } }
        let permit = live.breaker.permit()
        guard permit != .rejected else { return finished(breakerRefusal()) }
        var attempt = 0
        var reloadedKey = false
        var reservation: DNIReservation
        refreshKeys(live)
        while true {
            let remaining = deadline.remainingMs
            guard remaining > 0 else {
                reservation = DNIReservation(status: .timeout, errorMessage: "no complete answer within \(timeoutMs) ms")
                break
            }
            let sentWith = live.transport.secretsVersion
            let http = live.transport.get(HTTPRequest(url: reservationURL, timeoutMs: remaining, body: body))
            requests += 1
            reservation = ReservationDecoder.reservation(http, timeoutMs: timeoutMs)
            // A refused key reserved nothing: the rotated one may be tried.
            if Self.isSecretRefusal(reservation.status, http), !reloadedKey {
                reloadedKey = true
                if secretsRotated(since: sentWith, live), deadline.remainingMs >= Limits.minRetryAttemptMs { continue }
            }
            // Never after a timeout, a reset once sent, or any answer: the
            // server may have reserved a number already.
            guard attempt < config.retries, http.isRetryableForPost else { break }
            let backoff = Self.backoffMs(attempt: attempt)
            guard deadline.remainingMs >= backoff + Limits.minRetryAttemptMs else { break }
            log(.info, "reserve_dni shared_id=\(sharedID): \(redacted(reservation.errorMessage)); not sent, retrying in \(backoff) ms")
            Self.sleep(milliseconds: backoff)
            attempt += 1
        }
        switch live.breaker.record(permit, failed: reservation.status.isAPIFailure) {
        case .opened?, .reopened?:
            live.stats.recordBreakerOpened()
            log(.error, "circuit breaker opened by a reservation (\(reservation.status.nameString)); failing fast for \(config.breakerCooldownMs) ms")
        case .closed?:
            log(.info, "circuit breaker closed: the API answered")
        case nil:
            break
        }
        return DNIReservation(status: reservation.status, httpStatus: reservation.httpStatus, dni: reservation.dni,
                              errorMessage: redacted(reservation.errorMessage))
    }

    /// A refusal before any request: logged and counted like a reservation.
    private func refusedReservation(_ message: String) -> DNIReservation {
        log(.warning, "reserve_dni refused: \(message)")
        runtime.value.stats.recordReservation(.invalidArgument, requests: 0)
        return DNIReservation(status: .invalidArgument, errorMessage: redacted(message))
    }

    private func finished(_ result: HandoffResult) -> DNIReservation {
        DNIReservation(status: result.status, httpStatus: result.httpStatus, errorMessage: result.errorMessage)
    }
}
