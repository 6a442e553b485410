/// What a DNI reservation produced, immutable.
public struct DNIReservation: Sendable {
    public let status: HandoffStatus
    /// 0 when no response arrived.
    public let httpStatus: Int
    /// The reserved number, only with `.ok`: an optional "+" and 1 to 32
    /// digits, safe in a Request-URI or a Dial() string.
    public let dni: String?
    /// "" on success.
    public let errorMessage: String
    public var elapsedUs: Int64 = 0

    /// A reservation refused before anything was sent (no client).
    public static func refused(_ status: HandoffStatus, _ message: String) -> DNIReservation {
        DNIReservation(status: status, errorMessage: message)
    }

    init(status: HandoffStatus, httpStatus: Int = 0, dni: String? = nil, errorMessage: String = "") {
        self.status = status
        self.httpStatus = httpStatus
        self.dni = status == .ok ? dni : nil
        self.errorMessage = errorMessage
    }
}
