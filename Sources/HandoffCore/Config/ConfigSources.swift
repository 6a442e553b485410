#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The two textual sources of settings: ini-style files and the environment.
public enum ConfigSources {
    public static let environmentPrefix = "POLYAI_HANDOFF_"

    /// Parses "key = value" lines; '#' or ';' start a comment line, values may
    /// be wrapped in double quotes.
    public static func parseFile(text: String, name: String) throws(ConfigError) -> [(key: String, value: String, origin: String)] {
        var settings: [(key: String, value: String, origin: String)] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = TextRules.trimmed(String(rawLine))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") || line.hasPrefix("[") { continue }
            let origin = "\(name):\(lineNumber)"
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError("\(origin): expected \"key = value\"")
            }
            let key = TextRules.trimmed(String(line[..<equals]))
            var value = TextRules.trimmed(String(line[line.index(after: equals)...]))
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            settings.append((key, value, origin))
        }
        return settings
    }

    public static func readFile(path: String) throws(ConfigError) -> [(key: String, value: String, origin: String)] {
        let bytes: [UInt8]
        do {
            bytes = try FileAccess.read(path, limit: Limits.maxConfigFileBytes)
        } catch {
            throw ConfigError("config file: \(error.message) \(TextRules.quoted(path))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError("config file \(TextRules.quoted(path)) is not UTF-8")
        }
        return try parseFile(text: text, name: path)
    }

    /// Every POLYAI_HANDOFF_<KEY> variable: the key is the rest, lower-cased;
    /// POLYAI_HANDOFF_RENAME_<KEY> sets rename.<key>.
    public static func environment(_ variables: [(name: String, value: String)]) -> [(key: String, value: String, origin: String)] {
        variables.compactMap { variable in
            guard variable.name.hasPrefix(environmentPrefix) else { return nil }
            var key = String(variable.name.dropFirst(environmentPrefix.count)).lowercased()
            if key.hasPrefix("rename_") { key = HandoffConfig.renamePrefix + key.dropFirst("rename_".count) }
            return (key, variable.value, "environment \(variable.name)")
        }
    }

    /// The process environment, read now.
    public static func processEnvironment() -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if text.hasPrefix(environmentPrefix), let equals = text.firstIndex(of: "=") {
                result.append((String(text[..<equals]), String(text[text.index(after: equals)...])))
            }
            cursor += 1
        }
        return result
    }
}
