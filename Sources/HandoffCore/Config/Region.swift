/// The PolyAI regions; an API key is only valid in its own.
public enum Region: String, Sendable, CaseIterable {
    case us1 = "us-1"
    case uk1 = "uk-1"
    case euw1 = "euw-1"

    public var baseURL: String { "https://api.\(rawValue).platform.polyai.app" }
}
