/// Why a configuration call failed. The message names the key and never holds
/// the API key.
public struct ConfigError: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }

    static func invalid(_ key: String, _ reason: String) -> ConfigError {
        ConfigError("\(key): \(reason)")
    }
}
