import Glibc
import Testing
@testable import HandoffCore

/// Configuration text as bytes (CR LF, byte order marks, combining marks)
/// and the files it comes from, at their size limits. FIFOs are tested from
/// C (Tests/abi/test_files.c), under alarm(), so that a regression fails
/// rather than hangs.
@Suite struct ConfigFileTests {
    /// A new file in /tmp holding `bytes`; removed by `remove`.
    static func file(_ bytes: [UInt8], mode: mode_t = 0o600) -> String {
        var template = Array("/tmp/handoff-swift-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        precondition(fd >= 0, "mkstemp")
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            precondition(count > 0, "write")
            written += count
        }
        fchmod(fd, mode)
        close(fd)
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func remove(_ path: String) { unlink(path) }

    @Test func crlfLinesAndByteOrderMark() throws {
        let text = "\u{FEFF}# Windows\r\nregion = uk-1\r\naccount_id = \"acme\"\r\n\r\ntimeout_ms=750\r\n"
        let settings = try ConfigSources.parseFile(Array(text.utf8), name: "f")
        #expect(settings.map(\.key) == ["region", "account_id", "timeout_ms"])
        #expect(settings.map(\.value) == ["uk-1", "acme", "750"])
        #expect(settings.map(\.origin) == ["f:2", "f:3", "f:5"])
        var config = HandoffConfig()
        try config.apply(settings)
        #expect(config.region == .uk1 && config.accountID == "acme" && config.timeoutMs == 750)
        // A CR inside a line is still a control character.
        #expect(throws: ConfigError.self) {
            var config = HandoffConfig()
            try config.apply(ConfigSources.parseFile(Array("account_id = a\rb\n".utf8), name: "f"))
        }
        #expect(throws: ConfigError("config file \"f\" is not UTF-8")) {
            try ConfigSources.parseFile([0x61, 0x3D, 0xFF, 0x0A], name: "f")
        }
    }

    /// "=" followed by a combining mark is one Character, yet a line of
    /// "key =<U+0301>value" has its "=" byte.
    @Test func linesSplitOnBytes() throws {
        let settings = try ConfigSources.parseFile(Array("rename.queue =\u{301}Q\n".utf8), name: "f")
        #expect(settings.first?.key == "rename.queue")
        #expect(settings.first?.value == "\u{301}Q")
        #expect(TextRules.trimmed(" 1500\r\n") == "1500")
        #expect(TextRules.trimmed("\t\r\n") == "")
        #expect(TextRules.trimmed(" \u{301}x ") == "\u{301}x")
    }

    /// An entry as environ holds it, not setenv(): the other suites, running
    /// meanwhile, read the environment (proxies, libcurl).
    @Test func environmentSplitsOnTheEqualsByte() {
        let found = ConfigSources.variable(fromEntry: Array("POLYAI_HANDOFF_SWIFT_TEST_COMBINING=\u{301}v".utf8))
        #expect(found?.name == "POLYAI_HANDOFF_SWIFT_TEST_COMBINING")
        #expect(found?.value == "\u{301}v")
        #expect(ConfigSources.variable(fromEntry: Array("HOME=/root".utf8)) == nil)
        #expect(ConfigSources.environment([("POLYAI_HANDOFF_RENAME_QUEUE", "Q")]).first?.key == "rename.queue")
    }

    @Test(arguments: [
        "https://user@\u{301}api.example.com", "https://a \u{301}b", "http://127.0.0.1:1/?\u{301}",
        "http://127.0.0.1:1/#\u{301}", "https://api.example.com\u{FF20}evil", "https://b\u{00FC}cher.example",
    ])
    func baseURLRefusedOnBytes(url: String) {
        #expect(throws: ConfigError.self, "\(url)") { _ = try BaseURL(url) }
    }

    @Test func baseURLStillAccepts() throws {
        #expect(try BaseURL("HTTPS://api.example.com/p/").text == "HTTPS://api.example.com/p")
        #expect(try BaseURL("http://[::1]:8/").isHTTPS == false)
        #expect(try BaseURL("https://xn--bcher-kva.example").isHTTPS)
    }

    @Test func keyPatternsOnBytes() throws {
        #expect(KeyPattern("a*\u{301}") == nil)
        #expect(KeyPattern("*\u{301}b") == nil)
        #expect(KeyPattern.list("queue,\u{301}x")?.map(\.text) == ["queue", "\u{301}x"])
        #expect(KeyPattern("customer.*")?.matches("customer.tier") == true)
    }

    // MARK: files

    @Test func keyFileByteOrderMarkAndLineEnds() throws {
        for bytes in [Array("\u{FEFF}k-1\r\n".utf8), Array("k-1\n".utf8), Array("  k-1 \r\nsecond\n".utf8)] {
            let path = Self.file(bytes)
            defer { Self.remove(path) }
            #expect(try APIKey(file: path).secret == "k-1")
        }
        let path = Self.file([0xFF, 0x41, 0x0A])
        defer { Self.remove(path) }
        #expect(throws: ConfigError.self) { try APIKey(file: path) }
    }

    @Test func symlinkFollowedDirectoryRefused() throws {
        let target = Self.file(Array("k-2\n".utf8))
        defer { Self.remove(target) }
        let link = target + ".link"
        #expect(symlink(target, link) == 0)
        defer { unlink(link) }
        #expect(try APIKey(file: link).secret == "k-2")
        #expect(throws: ConfigError("api_key_file: \"/tmp\" is not a regular file (a directory)")) { try APIKey(file: "/tmp") }
        #expect(throws: ConfigError("config file: \"/tmp\" is not a regular file (a directory)")) {
            try ConfigSources.readFile(path: "/tmp")
        }
        var config = HandoffConfig()
        #expect(throws: ConfigError("ca_file: \"/tmp\" is not a regular file (a directory)")) { try config.set("ca_file", "/tmp") }
        #expect(throws: ConfigError("api_key_file: cannot open \"/nonexistent/k\" (no such file)")) {
            try config.set("api_key_file", "/nonexistent/k")
        }
    }

    @Test func apiKeyAndKeyFileLimits() throws {
        let longest = String(repeating: "k", count: Limits.maxAPIKeyBytes)
        #expect(try APIKey(longest).secret == longest)
        #expect(throws: ConfigError.self) { try APIKey(longest + "k") }
        // The whole file: the longest key, a newline and filler up to the limit.
        let filler = Limits.maxAPIKeyFileBytes - Limits.maxAPIKeyBytes - 1
        let atLimit = Self.file(Array((longest + "\n" + String(repeating: "#", count: filler)).utf8))
        defer { Self.remove(atLimit) }
        #expect(try APIKey(file: atLimit).secret == longest)
        let overLimit = Self.file(Array((longest + "\n" + String(repeating: "#", count: filler + 1)).utf8))
        defer { Self.remove(overLimit) }
        #expect(throws: ConfigError("api_key_file: \"\(overLimit)\" is larger than \(Limits.maxAPIKeyFileBytes) bytes")) {
            try APIKey(file: overLimit)
        }
        // A byte order mark and CR LF fit around the longest key.
        let marked = Self.file(Array(("\u{FEFF}" + longest + "\r\n").utf8))
        defer { Self.remove(marked) }
        #expect(try APIKey(file: marked).secret == longest)
    }

    @Test func configFileLimit() throws {
        let line = Array("timeout_ms = 750\n".utf8)
        let padding = [UInt8](repeating: UInt8(ascii: "#"), count: Limits.maxConfigFileBytes - line.count - 1) + [0x0A]
        let atLimit = Self.file(line + padding)
        defer { Self.remove(atLimit) }
        #expect(try ConfigSources.readFile(path: atLimit).map(\.value) == ["750"])
        let overLimit = Self.file(line + padding + [0x0A])
        defer { Self.remove(overLimit) }
        #expect(throws: ConfigError("config file: \"\(overLimit)\" is larger than \(Limits.maxConfigFileBytes) bytes")) {
            try ConfigSources.readFile(path: overLimit)
        }
    }

    /// The first certificate of the system bundle, padded with comment lines
    /// (which PEM parsing skips) to exactly the limit, then one byte over.
    @Test func caFileLimit() throws {
        let bundle = try FileAccess.read("/etc/ssl/certs/ca-certificates.crt", limit: Limits.maxCAFileBytes).bytes
        let end = Array("-----END CERTIFICATE-----\n".utf8)
        let endIndex = try #require(bundle.indices.first { bundle[$0...].starts(with: end) })
        let pem = Array(bundle[..<(endIndex + end.count)])
        let padding = [UInt8](repeating: UInt8(ascii: "#"), count: Limits.maxCAFileBytes - pem.count - 1) + [0x0A]
        let atLimit = Self.file(padding + pem)
        defer { Self.remove(atLimit) }
        #expect(try TrustStore.forCAFile(atLimit) != nil)
        let overLimit = Self.file([0x0A] + padding + pem)
        defer { Self.remove(overLimit) }
        #expect(throws: ConfigError("ca_file: \"\(overLimit)\" is larger than \(Limits.maxCAFileBytes) bytes")) {
            _ = try TrustStore.forCAFile(overLimit)
        }
        let empty = Self.file(Array("no certificate here\n".utf8))
        defer { Self.remove(empty) }
        #expect(throws: ConfigError("ca_file: no PEM certificate could be read from \"\(empty)\"")) {
            _ = try TrustStore.forCAFile(empty)
        }
    }
}
