#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The two textual sources of settings: ini-style files and the environment.
public enum ConfigSources {
    public static let environmentPrefix = "POLYAI_HANDOFF_"

    /// Parses "key = value" lines; '#' or ';' start a comment line, values may
    /// be wrapped in double quotes. Lines end in LF or CR LF, and a leading
    /// UTF-8 byte order mark is skipped: the bytes are split, never Swift
    /// Characters, which fold "\r\n" into one. A "[section]" line is refused:
    /// keys are one flat list, and two sections would silently override each
    /// other.
    public static func parseFile(_ bytes: [UInt8], name: String) throws(ConfigError) -> [(key: String, value: String, origin: String)] {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ConfigError("config file \(TextRules.quoted(name)) is not UTF-8")
        }
        var settings: [(key: String, value: String, origin: String)] = []
        var lineNumber = 0
        let body = TextRules.droppingByteOrderMark(bytes[...])
        for rawLine in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            // Trimming blanks takes a CR before the LF with them.
            let line = TextRules.trimmed(rawLine)
            guard let first = line.first, first != UInt8(ascii: "#"), first != UInt8(ascii: ";") else { continue }
            let origin = "\(name):\(lineNumber)"
            if first == UInt8(ascii: "[") {
                throw ConfigError("\(origin): [section] lines are not supported; the file is one list of \"key = value\" lines")
            }
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
                throw ConfigError("\(origin): expected \"key = value\"")
            }
            let key = TextRules.trimmed(line[..<equals])
            var value = TextRules.trimmed(line[(equals + 1)...])
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            // Cut at ASCII bytes of valid UTF-8, so both parts are valid too.
            settings.append((String(decoding: key, as: UTF8.self), String(decoding: value, as: UTF8.self), origin))
        }
        return settings
    }

    public static func parseFile(text: String, name: String) throws(ConfigError) -> [(key: String, value: String, origin: String)] {
        try parseFile(Array(text.utf8), name: name)
    }

    public static func readFile(path: String) throws(ConfigError) -> [(key: String, value: String, origin: String)] {
        let contents: FileAccess.Contents
        do {
            contents = try FileAccess.read(path, limit: Limits.maxConfigFileBytes)
        } catch {
            throw ConfigError("config file: \(error.message)")
        }
        return try parseFile(contents.bytes, name: path)
    }

    /// Every POLYAI_HANDOFF_<KEY> variable: the key is the rest, lower-cased;
    /// POLYAI_HANDOFF_RENAME_<KEY> sets rename.<key>.
    public static func environment(_ variables: [(name: String, value: String)]) -> [(key: String, value: String, origin: String)] {
        variables.compactMap { variable in
            let name = Array(variable.name.utf8)
            guard name.starts(with: environmentPrefix.utf8) else { return nil }
            // ASCII lower case only: the keys are ASCII, and Unicode case
            // mapping could turn some other name into one of them.
            var key = String(decoding: name.dropFirst(environmentPrefix.utf8.count).map(asciiLowercased), as: UTF8.self)
            let rename = Array("rename_".utf8)
            if key.utf8.starts(with: rename) {
                key = HandoffConfig.renamePrefix + String(decoding: key.utf8.dropFirst(rename.count), as: UTF8.self)
            }
            return (key, variable.value, "environment \(variable.name)")
        }
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// The process environment, read now; split at the first "=" byte.
    public static func processEnvironment() -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var cursor = environ
        while let entry = cursor.pointee {
            if let variable = variable(fromEntry: Array(String(cString: entry).utf8)) { result.append(variable) }
            cursor += 1
        }
        return result
    }

    /// One `environ` entry, NAME=VALUE, split at the first "=" byte; nil
    /// without the prefix. Apart so that tests need not setenv(), which
    /// races the getenv() of every other test running meanwhile.
    static func variable(fromEntry bytes: [UInt8]) -> (name: String, value: String)? {
        guard bytes.starts(with: environmentPrefix.utf8), let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        return (String(decoding: bytes[..<equals], as: UTF8.self), String(decoding: bytes[(equals + 1)...], as: UTF8.self))
    }
}
