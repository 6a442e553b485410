/// What to look up: the integrator's shared id, or PolyAI's conversation id.
public enum LookupTarget: Sendable, Hashable {
    case sharedID(String)
    case conversationID(String)

    /// For log lines: "shared_id=acme-call-123".
    public var logDescription: String {
        switch self {
        case .sharedID(let id): "shared_id=\(id)"
        case .conversationID(let id): "id=\(id)"
        }
    }

    public enum Kind: Sendable {
        case sharedID, conversationID
        public var parameter: String { self == .sharedID ? "shared_id" : "conversation id" }
    }

    /// Validates raw bytes from the caller: 1 to 1024 bytes of UTF-8 without
    /// control characters. Anything else is refused before a request is made.
    public static func validated(_ bytes: [UInt8], as kind: Kind) -> Result<LookupTarget, LookupError> {
        let name = kind.parameter
        guard !bytes.isEmpty else { return .failure(LookupError("\(name) is empty")) }
        guard bytes.count <= Limits.maxIDBytes else {
            return .failure(LookupError("\(name) is longer than \(Limits.maxIDBytes) bytes"))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(LookupError("\(name) is not valid UTF-8"))
        }
        guard !text.unicodeScalars.contains(where: SafeText.isUnsafe) else {
            return .failure(LookupError("\(name) contains control characters"))
        }
        return .success(kind == .sharedID ? .sharedID(text) : .conversationID(text))
    }
}

public struct LookupError: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}
