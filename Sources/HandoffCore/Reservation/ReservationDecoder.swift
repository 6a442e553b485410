/// Maps what the API answered to a reservation: 200 `{"dni": "+12345"}`,
/// errors as for lookups (`{error_message}` when there is one).
enum ReservationDecoder {
    static func reservation(_ http: HTTPOutcome, timeoutMs: Int) -> DNIReservation {
        switch http {
        case .response(200, let body):
            return success(body)
        case .response(let status, let body):
            let failure = ResponseDecoder.failure(status: status, body: body)
            return DNIReservation(status: failure.status, httpStatus: status, errorMessage: failure.errorMessage)
        default:
            // Timeouts, network and oversized bodies: the lookup's wording.
            let outcome = ResponseDecoder.outcome(http, timeoutMs: timeoutMs)
            return DNIReservation(status: outcome.status, httpStatus: outcome.httpStatus, errorMessage: outcome.errorMessage)
        }
    }

    /// The number is never returned unless it is one: it goes straight into
    /// a Request-URI or a Dial() string.
    static func success(_ body: [UInt8]) -> DNIReservation {
        let document: JSONValue
        do {
            document = try JSONDecoder.decode(body, maxDepth: Limits.maxAttributesDepth)
        } catch {
            return DNIReservation(status: .protocol, httpStatus: 200, errorMessage: "200 response: \(error.message)")
        }
        guard case .string(let dni)? = document["dni"] else {
            return DNIReservation(status: .protocol, httpStatus: 200, errorMessage: "200 response without a string \"dni\"")
        }
        guard isPhoneNumber(dni) else {
            // The value itself is not quoted: it is the server's, hostile maybe.
            return DNIReservation(status: .protocol, httpStatus: 200,
                                  errorMessage: "200 response with a \"dni\" that is not a phone number (\(dni.utf8.count) bytes; expected an optional + and 1 to \(Limits.maxDNIDigits) digits)")
        }
        return DNIReservation(status: .ok, httpStatus: 200, dni: dni)
    }

    /// An optional "+" and 1 to `Limits.maxDNIDigits` ASCII digits, nothing else.
    static func isPhoneNumber(_ text: String) -> Bool {
        var digits = text.utf8[...]
        if digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return (1...Limits.maxDNIDigits).contains(digits.count) && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
