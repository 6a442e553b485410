import Testing
@testable import HandoffCore

@Suite struct RenderTests {
    static let acme = #"{"customer_id":"12345","handoff_reason":"successfully_identified","handoff_to":"billing","customer":{"tier":"gold","name":"Zoë Ångström","account_number":9223372036854775807,"balance":1234.50},"previous_calls":["2026-11-01","2026-11-15"],"vip":true,"notes":null}"#

    func render(_ json: String, _ configure: (inout RenderOptions) -> Void = { _ in }, status: HandoffStatus = .ok) throws -> RenderedResult {
        var options = RenderOptions()
        configure(&options)
        var outcome = Renderer.Outcome(status: status, httpStatus: 200)
        outcome.conversationID = "0bba04d7"
        outcome.sharedID = "acme-call-123"
        outcome.data = try JSONDecoder.decode(Array(json.utf8))
        return Renderer(options: options).result(outcome).rendered()
    }

    @Test func goldenAcme() throws {
        let result = try render(Self.acme)
        #expect(result.entries.map(\.key) == [
            "customer_id", "handoff_reason", "handoff_to", "customer.tier", "customer.name",
            "customer.account_number", "customer.balance", "previous_calls.0", "previous_calls.1", "vip", "notes",
        ])
        #expect(result.entries.map(\.value) == [
            "12345", "successfully_identified", "billing", "gold", "Zoë Ångström",
            "9223372036854775807", "1234.50", "2026-11-01", "2026-11-15", "true", "",
        ])
        #expect(result.headerBlock == """
            X-PolyAI-Handoff-Status: ok\r
            X-PolyAI-Conversation-Id: 0bba04d7\r
            X-PolyAI-Shared-Id: acme-call-123\r
            X-PolyAI-Customer-Id: 12345\r
            X-PolyAI-Handoff-Reason: successfully_identified\r
            X-PolyAI-Handoff-To: billing\r
            X-PolyAI-Customer-Tier: gold\r
            X-PolyAI-Customer-Name: Zoë Ångström\r
            X-PolyAI-Customer-Account-Number: 9223372036854775807\r
            X-PolyAI-Customer-Balance: 1234.50\r
            X-PolyAI-Previous-Calls-0: 2026-11-01\r
            X-PolyAI-Previous-Calls-1: 2026-11-15\r
            X-PolyAI-Vip: true\r
            X-PolyAI-Notes: \r

            """)
        #expect(result.variablesBlock.hasPrefix("POLYAI_HANDOFF_STATUS=ok\nPOLYAI_CONVERSATION_ID=0bba04d7\nPOLYAI_SHARED_ID=acme-call-123\nPOLYAI_CUSTOMER_ID=12345\n"))
        #expect(result.variablesBlock.contains("\nPOLYAI_CUSTOMER_ACCOUNT_NUMBER=9223372036854775807\n"))
        #expect(result.truncated == 0)
    }

    @Test func failureStillCarriesStatus() {
        let result = Renderer(options: RenderOptions()).result(.init(status: .notFound, httpStatus: 404, errorMessage: "gone")).rendered()
        #expect(result.headerBlock == "X-PolyAI-Handoff-Status: not_found\r\n")
        #expect(result.variablesBlock == "POLYAI_HANDOFF_STATUS=not_found\n")
        #expect(result.entries.isEmpty && result.dataJSON == "{}")
    }

    @Test func injectionIsNeutralised() throws {
        let result = try render(#"{"handoff_to":"billing\r\nX-Evil: 1","nul":"a\u0000b","ctrl":"bell\u0007","ls":"a\u2028b","Key With Spaces: and:colons":"v"}"#)
        #expect(result.entries.map(\.value) == ["billing  X-Evil: 1", "a b", "bell ", "a b", "v"])
        #expect(result.entries.last?.headerName == "X-PolyAI-Key-With-Spaces-And-Colons")
        #expect(result.entries.last?.variableName == "POLYAI_KEY_WITH_SPACES_AND_COLONS")
        let lines = result.headerBlock.split(separator: "\r\n")
        #expect(!lines.contains { $0.hasPrefix("X-Evil") })
        #expect(lines.count == 3 + 5)
    }

    @Test func namesFromAwkwardKeys() throws {
        let result = try render(#"{"customerId":1,"customer_id":2,"CUSTOMER-ID":3,"handoff_status":"spoof","こんにちは":4,"":5,"9lives":6}"#)
        #expect(result.entries.map(\.headerName) == [
            "X-PolyAI-Customer-Id", "X-PolyAI-Customer-Id-2", "X-PolyAI-CUSTOMER-ID-3",
            "X-PolyAI-Handoff-Status-2", "X-PolyAI-Entry", "X-PolyAI-Entry-2", "X-PolyAI-9lives",
        ])
        #expect(result.entries.map(\.variableName) == [
            "POLYAI_CUSTOMER_ID", "POLYAI_CUSTOMER_ID_2", "POLYAI_CUSTOMER_ID_3",
            "POLYAI_HANDOFF_STATUS_2", "POLYAI_ENTRY", "POLYAI_ENTRY_2", "POLYAI_9LIVES",
        ])
        #expect(result.headerBlock.hasPrefix("X-PolyAI-Handoff-Status: ok\r\n"))
    }

    /// Names are compared directly up to NameSet.linearLimit and hashed after:
    /// clashes resolve the same on both sides of the switch.
    @Test func uniquenessAcrossTheLinearLimit() throws {
        let pairs = (0..<100).map { #""k\#($0)":1,"K\#($0)":2"# }.joined(separator: ",")
        let result = try render("{\(pairs)}") { $0.maxEntries = 1024 }
        #expect(result.entries.count == 200)
        #expect(NameSet.linearLimit < 200 - 3)
        for index in 0..<100 {
            #expect(result.entries[2 * index].headerName == "X-PolyAI-K\(index)")
            #expect(result.entries[2 * index + 1].headerName == "X-PolyAI-K\(index)-2")
            #expect(result.entries[2 * index + 1].variableName == "POLYAI_K\(index)_2")
        }
        #expect(Set(result.entries.map { $0.headerName.lowercased() }).count == 200)
    }

    @Test func valueCutOnUTF8Boundary() throws {
        // "é" is 2 bytes: 3 of them do not fit in 5 bytes, and the cut never splits one.
        let result = try render(#"{"a":"ééé","b":"12345","c":"123456"}"#) { $0.maxValueBytes = 5 }
        #expect(result.entries.map(\.value) == ["éé", "12345", "12345"])
        #expect(result.truncated == 2)
    }

    /// Regression: the status value was cut by max_value_bytes ("ok" became "o").
    @Test func metaValuesAreNeverCut() throws {
        let result = try render(#"{"a":"long"}"#, { $0.maxValueBytes = 1 }, status: .notFound)
        #expect(result.headerBlock.hasPrefix("X-PolyAI-Handoff-Status: not_found\r\nX-PolyAI-Conversation-Id: 0bba04d7\r\n"))
        #expect(result.variablesBlock.hasPrefix("POLYAI_HANDOFF_STATUS=not_found\n"))
        #expect(result.entries.first?.value == "l")
    }

    @Test func entryLimitBoundary() throws {
        let json = "{" + (0..<5).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        #expect(try render(json) { $0.maxEntries = 5 }.entries.count == 5)
        let cut = try render(json) { $0.maxEntries = 4 }
        #expect(cut.entries.map(\.key) == ["k0", "k1", "k2", "k3"])
        #expect(cut.truncated == 1)
        #expect(try render(json) { $0.maxEntries = 0 }.entries.isEmpty)
    }

    @Test func depthLimitBoundary() throws {
        let json = #"{"a":{"b":{"c":"deep"},"x":"mid"},"top":"t"}"#
        #expect(try render(json) { $0.maxDepth = 3 }.entries.map(\.key) == ["a.b.c", "a.x", "top"])
        let cut = try render(json) { $0.maxDepth = 2 }
        #expect(cut.entries.map(\.key) == ["a.x", "top"])
        #expect(cut.truncated == 1)
        let one = try render(json) { $0.maxDepth = 1 }
        #expect(one.entries.map(\.key) == ["top"])
        #expect(one.truncated == 2)
    }

    @Test func headerBlockBoundary() throws {
        let json = #"{"a":"1","b":"2"}"#
        let full = try render(json)
        let size = full.headerBlock.utf8.count
        #expect(try render(json) { $0.maxHeaderBlockBytes = size }.headerBlock == full.headerBlock)
        let cut = try render(json) { $0.maxHeaderBlockBytes = size - 1 }
        #expect(cut.headerBlock == String(full.headerBlock.dropLast("X-PolyAI-B: 2\r\n".count)))
        #expect(cut.truncated == 1)
        #expect(cut.entries.count == 2, "entries and variables keep what the header block cannot")
    }

    /// Regression: a meta line that did not fit (a long conversation id) was
    /// left out of the header block without being counted.
    @Test func metaLinesLeftOutOfTheHeaderBlockAreCounted() throws {
        var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
        outcome.conversationID = String(repeating: "c", count: 200)
        outcome.sharedID = "s"
        outcome.data = try JSONDecoder.decode(Array(#"{"a":"1"}"#.utf8))
        var options = RenderOptions()
        options.maxHeaderBlockBytes = 128
        let result = Renderer(options: options).result(outcome).rendered()
        #expect(result.headerBlock == "X-PolyAI-Handoff-Status: ok\r\n")
        #expect(result.truncated == 3, "conversation id, shared id and the one data line")
    }

    /// Ids are bounded at 1 KiB; one longer is cut and counted.
    @Test func idsOverTheLimitAreCutAndCounted() {
        var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
        outcome.conversationID = String(repeating: "c", count: Limits.maxIDBytes + 1)
        outcome.sharedID = String(repeating: "s", count: Limits.maxIDBytes)
        let result = Renderer(options: RenderOptions()).result(outcome)
        #expect(result.conversationID?.utf8.count == Limits.maxIDBytes)
        #expect(result.sharedID?.utf8.count == Limits.maxIDBytes)
        #expect(result.truncatedBeforeRendering == 1)
    }

    /// Lines after the first that does not fit are left out too, even shorter
    /// ones: the block is always a prefix of the full list.
    @Test func headerBlockIsAPrefix() throws {
        let json = #"{"a":"1","long":"\#(String(repeating: "x", count: 200))","b":"2"}"#
        let full = try render(json, { $0.maxValueBytes = 4096 })
        let limit = full.headerBlock.utf8.count - 1
        let cut = try render(json) {
            $0.maxValueBytes = 4096
            $0.maxHeaderBlockBytes = limit - 200
        }
        #expect(cut.headerBlock.hasSuffix("X-PolyAI-A: 1\r\n"))
        #expect(!cut.headerBlock.contains("X-PolyAI-B"))
        #expect(cut.truncated == 2)
    }

    @Test func includeExcludeAndRenames() throws {
        let result = try render(Self.acme) {
            $0.include = [KeyPattern("handoff_to"), KeyPattern("customer.*")].compactMap { $0 }
            $0.exclude = [KeyPattern("customer.name")].compactMap { $0 }
            $0.renames = ["handoff_to": "X-Queue"]
        }
        #expect(result.entries.map(\.key) == ["handoff_to", "customer.tier", "customer.account_number", "customer.balance"])
        #expect(result.entries.first?.headerName == "X-Queue")
        #expect(result.entries.first?.variableName == "X_QUEUE")
        #expect(result.truncated == 0, "filtering by configuration is not truncation")
    }

    /// The sandbox's `deep` fixture: one entry, 12 levels down.
    static let deep = #"{"l1":{"l2":{"l3":{"l4":{"l5":{"l6":{"l7":{"l8":{"l9":{"l10":{"l11":{"l12":"bottom"}}}}}}}}}}}}"#

    /// Regression: an entry too deep for max_depth was counted as truncated
    /// even when include/exclude would have left it out anyway.
    @Test func depthCutCountsOnlyEntriesTheSelectionKeeps() throws {
        func pattern(_ text: String) -> [KeyPattern] { [KeyPattern(text)].compactMap { $0 } }
        let unselected = try render(Self.deep) { $0.include = pattern("nothing.*") }
        #expect(unselected.entries.isEmpty)
        #expect(unselected.truncated == 0)
        let excluded = try render(Self.deep) { $0.exclude = pattern("l1.l2.*") }
        #expect(excluded.entries.isEmpty && excluded.truncated == 0)
        let selected = try render(Self.deep) { $0.include = pattern("l1.*") }
        #expect(selected.entries.isEmpty && selected.truncated == 1)
        // Depth boundary: "l1.l2....l12" is 12 levels deep.
        #expect(try render(Self.deep) { $0.maxDepth = 12 }.entries.map(\.key) == ["l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12"])
        #expect(try render(Self.deep) { $0.maxDepth = 12 }.truncated == 0)
        #expect(try render(Self.deep) { $0.maxDepth = 11 }.truncated == 1)
        // Each entry of a cut subtree that the selection keeps is one.
        let json = #"{"a":{"b":{"x":1,"y":[2,3],"z":{}}},"top":"t"}"#
        #expect(try render(json) { $0.maxDepth = 2 }.truncated == 3)
        #expect(try render(json) { $0.maxDepth = 2; $0.include = pattern("a.b.y.*") }.truncated == 2)
        #expect(try render(json) { $0.maxDepth = 2; $0.exclude = pattern("a.b.y.1") }.truncated == 2)
        #expect(try render(json) { $0.maxDepth = 2; $0.include = pattern("top") }.truncated == 0)
    }

    /// Entries beyond max_entries count only when the selection keeps them.
    @Test func entryLimitCountsOnlyEntriesTheSelectionKeeps() throws {
        func pattern(_ text: String) -> [KeyPattern] { [KeyPattern(text)].compactMap { $0 } }
        let none = try render(Self.acme) { $0.maxEntries = 0; $0.include = pattern("nothing.*") }
        #expect(none.entries.isEmpty && none.truncated == 0)
        let customer = try render(Self.acme) { $0.maxEntries = 1; $0.include = pattern("customer.*") }
        #expect(customer.entries.map(\.key) == ["customer.tier"])
        #expect(customer.truncated == 3)
    }

    /// Regression: include/exclude were matched against the key as the
    /// server wrote it, not as it is returned: "x\ty" is shown as "x y", yet
    /// exclude = "x y" kept it.
    @Test func patternsMatchTheKeyAsReturned() throws {
        let json = #"{"x\ty":"1","plain":"2"}"#
        let excluded = try render(json) { $0.exclude = [KeyPattern("x y")].compactMap { $0 } }
        #expect(excluded.entries.map(\.key) == ["plain"])
        let included = try render(json) { $0.include = [KeyPattern("x y")].compactMap { $0 } }
        #expect(included.entries.map(\.key) == ["x y"])
        let long = String(repeating: "k", count: Limits.maxKeyBytes + 1)
        let cut = try render(#"{"\#(long)":"v"}"#) { $0.include = [KeyPattern(String(long.dropLast()))].compactMap { $0 } }
        #expect(cut.entries.count == 1, "a cut key matches its pattern as shown")
    }

    /// Keys that differ in the document but are equal once flattened (or made
    /// safe) stay separate entries in document order; names stay unique.
    @Test func keysEqualOnceFlattenedStaySeparate() throws {
        let result = try render(#"{"a.b":"flat","a":{"b":"nested"},"c\u0001":"1","c\u0002":"2"}"#)
        #expect(result.entries.map(\.key) == ["a.b", "a.b", "c ", "c "])
        #expect(result.entries.map(\.value) == ["flat", "nested", "1", "2"])
        #expect(result.entries.map(\.headerName) == ["X-PolyAI-A-B", "X-PolyAI-A-B-2", "X-PolyAI-C", "X-PolyAI-C-2"])
        #expect(result.entries.map(\.variableName) == ["POLYAI_A_B", "POLYAI_A_B_2", "POLYAI_C", "POLYAI_C_2"])
        #expect(result.truncated == 0)
    }

    /// Boundary: a header block that holds the meta lines exactly, then one
    /// byte less; each line left out is one, meta or data.
    @Test func headerBlockOfMetaLinesOnly() throws {
        var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
        outcome.conversationID = String(repeating: "c", count: 128 - 29 - 35 - 28)
        outcome.sharedID = "acme-call-123"
        outcome.data = try JSONDecoder.decode(Array(Self.acme.utf8))
        var options = RenderOptions()
        options.maxHeaderBlockBytes = 128
        let fits = Renderer(options: options).result(outcome).rendered()
        #expect(fits.headerBlock.utf8.count == 128)
        #expect(fits.truncated == 11, "the 11 data lines")
        outcome.conversationID = String(repeating: "c", count: 128 - 29 - 35 - 28 + 1)
        let over = Renderer(options: options).result(outcome).rendered()
        #expect(over.headerBlock == "X-PolyAI-Handoff-Status: ok\r\nX-PolyAI-Conversation-Id: \(outcome.conversationID ?? "")\r\n")
        #expect(over.truncated == 12, "the shared id and the 11 data lines")
    }

    @Test func prefixes() throws {
        let result = try render(#"{"queue":"q"}"#) {
            $0.headerPrefix = "x-acme-"
            $0.variablePrefix = "PBX_"
        }
        #expect(result.headerBlock.hasPrefix("x-acme-Handoff-Status: ok\r\n"))
        #expect(result.entries.first?.headerName == "x-acme-Queue")
        #expect(result.entries.first?.variableName == "PBX_QUEUE")
        #expect(result.variablesBlock.hasPrefix("PBX_HANDOFF_STATUS=ok\n"))
    }

    @Test func emptyContainersGiveNoEntries() throws {
        #expect(try render(#"{"a":[],"b":{},"c":[{}]}"#).entries.isEmpty)
    }
}
