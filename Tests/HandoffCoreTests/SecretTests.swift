import Testing
@testable import HandoffCore

/// The configured key never comes back in a message: `SecretRedactor`, the
/// configuration's errors, and a client's results.
@Suite struct SecretTests {
    let key = "sk-live-7Qx9"

    @Test func redactsEveryOccurrenceOnBytes() {
        let redactor = SecretRedactor([(key, "<api key>")])
        #expect(redactor.redact("bad key \(key), again \(key)!") == "bad key <api key>, again <api key>!")
        // A combining mark after the key makes one Character with its last
        // letter; the bytes still match.
        #expect(redactor.redact("\(key)\u{301} rejected") == "<api key>\u{301} rejected")
        #expect(redactor.redact("nothing here") == "nothing here")
        #expect(redactor.redact("") == "")
        #expect(redactor.redact("sk-live-7Qx") == "sk-live-7Qx")
    }

    @Test func longestSecretFirstAndEmptyIgnored() {
        let redactor = SecretRedactor([("abc", "<short>"), ("abcdef", "<long>"), ("", "<empty>")])
        #expect(redactor.redact("abcdef abc") == "<long> <short>")
        #expect(SecretRedactor.none.redact("abc") == "abc")
        #expect(SecretRedactor([("a", "1")]).adding(SecretRedactor([("b", "2")])).redact("ab") == "12")
    }

    @Test func configErrorsNeverQuoteTheKey() throws {
        var config = HandoffConfig()
        try config.set("api_key", key)
        #expect(config.redactor.redact("x \(key)") == "x <api key>")
        // A key pasted into the wrong setting.
        #expect(throws: ConfigError("region: unknown region \"<api key>\" (us-1, uk-1 or euw-1)")) {
            try config.set("region", key)
        }
        // Set earlier in the same batch, or later (the environment has no order).
        var fresh = HandoffConfig()
        #expect(throws: ConfigError("f:2: timeout_ms: must be a whole number from 1 to 600000 (got \"<api key>\")")) {
            try fresh.apply([("api_key", key, "f:1"), ("timeout_ms", key, "f:2")])
        }
        #expect(throws: ConfigError("f:1: timeout_ms: must be a whole number from 1 to 600000 (got \"<api key>\")")) {
            try fresh.apply([("timeout_ms", key, "f:1"), ("api_key", key, "f:2")])
        }
        #expect(fresh.apiKey == nil)
    }
}

// Lookups run in ClientTests, the one serialized suite that runs them: the
// in-flight count its tests read is process-wide.
extension ClientTests {
    /// The server echoes the key: redacted before the 1 KiB cut (which would
    /// leave the key's start), and after control characters became spaces.
    @Test(arguments: [
        (key: "sk-live-7Qx9", echoed: String(repeating: "x", count: 1015) + "sk-live-7Qx9"),
        (key: "sk live 7Qx9", echoed: "refused sk\tlive\n7Qx9"),
        (key: "sk-live-7Qx9", echoed: "refused sk-live-7Qx9\u{301}"),
    ])
    func resultsNeverHoldTheKey(key: String, echoed: String) throws {
        let body = #"{"error_message":"\#(echoed.replacingTabsAndNewlines)"}"#
        let server = ScriptedServer([.init(status: 403, body: body)])
        defer { server.stop() }
        var config = HandoffConfig()
        try config.apply([("base_url", server.baseURL, "t"), ("account_id", "a", "t"), ("project_id", "p", "t"),
                          ("api_key", key, "t"), ("breaker_failures", "0", "t")])
        let result = try HandoffClient(config: config).lookup(.sharedID("s-1"))
        #expect(result.status == .forbidden)
        let message = Array(result.errorMessage.utf8)
        #expect(message.contains(Array("<api key>".utf8)), "\(result.errorMessage)")
        // Not even the key's start.
        #expect(!message.contains(Array("sk-live".utf8)) && !message.contains(Array("sk live".utf8)), "\(result.errorMessage)")
    }
}

private extension String {
    /// JSON escapes for the tab and newline a test message holds.
    var replacingTabsAndNewlines: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
