import Testing
@testable import HandoffCore

@Suite struct ConfigTests {
    @Test func defaults() {
        let config = HandoffConfig()
        #expect(config.region == .us1)
        #expect(config.effectiveBaseURL.text == "https://api.us-1.platform.polyai.app")
        #expect(config.timeoutMs == 2000)
        #expect(config.maxResponseBytes == 65536)
        #expect(config.render.maxValueBytes == 256)
        #expect(config.render.maxEntries == 32)
        #expect(config.render.maxDepth == 8)
        #expect(config.render.maxHeaderBlockBytes == 1024)
        #expect(config.userAgent == "polyai-handoff/1.2.0")
    }

    @Test(arguments: Region.allCases) func regions(region: Region) throws {
        var config = HandoffConfig()
        try config.set("region", region.rawValue)
        #expect(config.effectiveBaseURL.text == "https://api.\(region.rawValue).platform.polyai.app")
    }

    @Test func unknownKeyIsNamed() {
        var config = HandoffConfig()
        #expect(throws: ConfigError("unknown configuration key \"colour\"")) { try config.set("colour", "red") }
    }

    @Test func invalidValueNamesKeyAndChangesNothing() {
        var config = HandoffConfig()
        #expect { try config.set("region", "mars") } throws: { ($0 as? ConfigError)?.message.hasPrefix("region:") == true }
        #expect(config == HandoffConfig())
    }

    @Test(arguments: [
        ("timeout_ms", "1", true), ("timeout_ms", "600000", true), ("timeout_ms", "0", false),
        ("timeout_ms", "600001", false), ("timeout_ms", "-5", false), ("timeout_ms", "abc", false),
        ("connect_timeout_ms", "1", true), ("connect_timeout_ms", "0", false),
        ("max_response_bytes", "1024", true), ("max_response_bytes", "1023", false),
        ("max_response_bytes", "16777216", true), ("max_response_bytes", "16777217", false),
        ("max_value_bytes", "1", true), ("max_value_bytes", "0", false), ("max_value_bytes", "4096", true),
        ("max_value_bytes", "4097", false), ("max_entries", "0", true), ("max_entries", "1024", true),
        ("max_entries", "1025", false), ("max_depth", "1", true), ("max_depth", "0", false),
        ("max_depth", "32", true), ("max_depth", "33", false), ("max_header_block_bytes", "128", true),
        ("max_header_block_bytes", "127", false), ("max_header_block_bytes", "65536", true),
        ("max_header_block_bytes", "65537", false), ("timeout_ms", "99999999999999999999999", false),
        ("warm_connections", "0", true), ("warm_connections", "32", true), ("warm_connections", "33", false),
        ("warm_connections", "-1", false), ("connection_max_idle_ms", "100", true),
        ("connection_max_idle_ms", "99", false), ("keep_warm_ms", "0", true), ("keep_warm_ms", "86400001", false),
        ("hedge_after_ms", "0", true), ("hedge_after_ms", "600000", true), ("hedge_after_ms", "600001", false),
        ("hedge_after_ms", "auto", true), ("hedge_after_ms", "Auto", false), ("hedge_after_ms", "p95", false),
        ("hedge_max_percent", "100", true), ("hedge_max_percent", "101", false),
    ])
    func integerBoundaries(key: String, value: String, valid: Bool) {
        var config = HandoffConfig()
        let accepted = (try? config.set(key, value)) != nil
        #expect(accepted == valid, "\(key)=\(value)")
    }

    @Test(arguments: [
        ("https://api.example.com", true), ("https://api.example.com/", true), ("HTTPS://x", true),
        ("http://127.0.0.1:8080", true), ("http://localhost:1", true), ("http://[::1]:9", true),
        ("http://127.1.2.3", true), ("http://example.com", false), ("http://127.0.0.1.evil.com", false),
        ("http://10.0.0.1", false), ("ftp://x", false), ("https://", false), ("https://a b", false),
        ("https://x?y=1", false), ("https://user:pw@x", false), ("https://x\r\n", false), ("", false),
    ])
    func baseURLRules(url: String, valid: Bool) {
        var config = HandoffConfig()
        #expect(((try? config.set("base_url", url)) != nil) == valid, "\(url)")
    }

    @Test func baseURLDropsTrailingSlashAndOverridesRegion() throws {
        var config = HandoffConfig()
        try config.set("region", "uk-1")
        try config.set("base_url", "https://proxy.local/polyai/")
        #expect(config.effectiveBaseURL.text == "https://proxy.local/polyai")
    }

    @Test func apiKeyIsNeverShown() throws {
        var config = HandoffConfig()
        try config.set("api_key", "s3cret-VALUE")
        #expect(!String(describing: config).contains("s3cret"))
        #expect(!String(reflecting: config).contains("s3cret"))
        #expect { try config.set("api_key", "s3cret\r\nX-Injected: 1") } throws: {
            !(($0 as? ConfigError)?.message.contains("s3cret") ?? true)
        }
    }

    /// Regression: a blank key was accepted, curl dropped the empty header, and
    /// the API answered 401 for a configuration mistake.
    @Test(arguments: ["", " ", "\t ", "  \t"]) func blankAPIKeyIsRefused(key: String) {
        var config = HandoffConfig()
        #expect(throws: ConfigError.self) { try config.set("api_key", key) }
    }

    @Test func applyIsAllOrNothing() throws {
        var config = HandoffConfig()
        #expect(throws: ConfigError.self) {
            try config.apply([("account_id", "acme", "a:1"), ("timeout_ms", "zero", "a:2")])
        }
        #expect(config.accountID == nil)
        try config.apply([("account_id", "acme", "a:1"), ("timeout_ms", "500", "a:2")])
        #expect(config.accountID == "acme" && config.timeoutMs == 500)
    }

    @Test func errorsNameTheOrigin() {
        var config = HandoffConfig()
        #expect(throws: ConfigError("handoff.conf:3: timeout_ms: must be a whole number from 1 to 600000 (got \"x\")")) {
            try config.apply([("timeout_ms", "x", "handoff.conf:3")])
        }
    }

    @Test func parsesIniFiles() throws {
        let text = """
        # comment
        ; also a comment

        region = euw-1
        account_id="acme"
          timeout_ms   =  750

        """
        let settings = try ConfigSources.parseFile(text: text, name: "f")
        #expect(settings.map(\.key) == ["region", "account_id", "timeout_ms"])
        #expect(settings.map(\.value) == ["euw-1", "acme", "750"])
        #expect(settings.map(\.origin) == ["f:4", "f:5", "f:6"])
        #expect(throws: ConfigError("f:1: expected \"key = value\"")) { try ConfigSources.parseFile(text: "oops", name: "f") }
        #expect(throws: ConfigError("f:2: [section] lines are not supported; the file is one list of \"key = value\" lines")) {
            try ConfigSources.parseFile(text: "region = uk-1\n  [polyai]\n", name: "f")
        }
    }

    @Test func environmentNames() {
        let settings = ConfigSources.environment([
            ("POLYAI_HANDOFF_TIMEOUT_MS", "10"), ("POLYAI_HANDOFF_RENAME_QUEUE", "X-Queue"), ("OTHER", "x"),
        ])
        #expect(settings.map(\.key) == ["timeout_ms", "rename.queue"])
        #expect(settings.first?.origin == "environment POLYAI_HANDOFF_TIMEOUT_MS")
    }

    @Test func patternsAndRenames() throws {
        var config = HandoffConfig()
        try config.set("include", "queue, customer.*")
        try config.set("rename.queue", "X-Queue")
        #expect(config.render.isSelected("queue"))
        #expect(config.render.isSelected("customer.tier"))
        #expect(!config.render.isSelected("customer"))
        #expect(!config.render.isSelected("handoff_to"))
        #expect(config.render.renames == ["queue": "X-Queue"])
        #expect(throws: ConfigError.self) { try config.set("include", "a*b") }
        #expect(throws: ConfigError.self) { try config.set("include", "a,,b") }
        #expect(throws: ConfigError.self) { try config.set("header_prefix", "X PolyAI") }
        #expect(throws: ConfigError.self) { try config.set("variable_prefix", "POLYAI-") }
    }

    /// Agent-written keys must never become standard SIP headers or the
    /// host's own variables, and variable names stay [A-Z0-9_].
    @Test func prefixesThatWouldLetDataNameStandardThings() throws {
        var config = HandoffConfig()
        for bad in ["", "X", "P-", "P-Asserted-", "Via", "XPolyAI-", "-X-", "X-Poly AI-", String(repeating: "X-", count: 33)] {
            #expect(throws: ConfigError.self, "header_prefix \(bad)") { try config.set("header_prefix", bad) }
        }
        for good in ["X-", "x-", "X-PolyAI-", "x-acme.", String("X-" + String(repeating: "a", count: 62))] {
            #expect(throws: Never.self, "header_prefix \(good)") { try config.set("header_prefix", good) }
        }
        for bad in ["", "_", "9X_", "polyai_", "PolyAI_", "POLY-AI_", String(repeating: "A", count: 65)] {
            #expect(throws: ConfigError.self, "variable_prefix \(bad)") { try config.set("variable_prefix", bad) }
        }
        for good in ["P", "POLYAI_", "PBX9_", String(repeating: "A", count: 64)] {
            #expect(throws: Never.self, "variable_prefix \(good)") { try config.set("variable_prefix", good) }
        }
        let refusal = #expect(throws: ConfigError.self) { try config.set("header_prefix", "P-") }
        #expect(refusal?.message.contains("header_prefix") == true)
    }

    @Test func idLengthBoundary() {
        let max = [UInt8](repeating: UInt8(ascii: "a"), count: Limits.maxIDBytes)
        #expect((try? LookupTarget.validated(max, as: .sharedID).get()) != nil)
        #expect((try? LookupTarget.validated(max + [UInt8(ascii: "a")], as: .sharedID).get()) == nil)
        #expect((try? LookupTarget.validated([], as: .sharedID).get()) == nil)
        #expect((try? LookupTarget.validated([0xFF, 0x41], as: .sharedID).get()) == nil)
        #expect((try? LookupTarget.validated(Array("a\nb".utf8), as: .sharedID).get()) == nil)
        #expect((try? LookupTarget.validated(Array("a\u{85}b".utf8), as: .sharedID).get()) == nil)
        #expect((try? LookupTarget.validated(Array("Zoë 📞".utf8), as: .conversationID).get()) == .conversationID("Zoë 📞"))
    }

    @Test func percentEncoding() throws {
        var config = HandoffConfig()
        try config.set("base_url", "http://127.0.0.1:1/")
        let url = RequestURL(base: config.effectiveBaseURL, accountID: "ws/x y", projectID: "P&Q")
        #expect(url.url(for: .sharedID("a b/c?d&e=f#g%ë~._-")) ==
            "http://127.0.0.1:1/v1/ws%2Fx%20y/P%26Q/handoff_state?shared_id=a%20b%2Fc%3Fd%26e%3Df%23g%25%C3%AB~._-")
        #expect(url.url(for: .conversationID("c-1")) == "http://127.0.0.1:1/v1/ws%2Fx%20y/P%26Q/handoff_state?id=c-1")
    }
}
