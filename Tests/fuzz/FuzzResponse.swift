// libFuzzer entry point over everything a server's answer goes through:
// the prescan, jansson, the response decoder, flattening and rendering, with
// rendering bounds taken from the input. Any invariant broken is a crash,
// which libFuzzer reports with the input that caused it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponse(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first 4 bytes pick the bounds, the selection and the status; the
    // rest is the body. (The status once came from the body's first byte,
    // so every seed's "{" made it a 404 and the seeds never reached the
    // 200 path.)
    var options = RenderOptions()
    options.maxValueBytes = Int(bytes[0]) % 64 + 1
    let status = bytes[0] & 0x40 != 0 ? 404 : 200
    options.maxEntries = size > 1 ? Int(bytes[1]) % 40 : 32
    options.maxDepth = size > 2 ? Int(bytes[2]) % 10 + 1 : 8
    let selection = size > 2 ? Int(bytes[2]) / 10 % 4 : 0
    switch selection {
    case 1: options.include = [KeyPattern("a.*")].compactMap { $0 }
    case 2: options.exclude = [KeyPattern("a.*")].compactMap { $0 }
    // No key as returned holds a control character: this selects nothing.
    case 3: options.include = [KeyPattern("\u{7}*")].compactMap { $0 }
    default: break
    }
    options.maxHeaderBlockBytes = size > 3 ? 128 + Int(bytes[3]) * 4 : 1024
    let body = Array(bytes.dropFirst(4))
    let outcome = ResponseDecoder.outcome(.response(status: status, body: body), timeoutMs: 1,
                                          flattener: Flattener(options: options))
    let result = Renderer(options: options).result(outcome).rendered()
    check(result, options, outcome)
    checkReservation(body, status: status)
    if selection == 3 {
        // Nothing selected: nothing to count, whatever the bounds.
        if !(result.entries.isEmpty && outcome.flat.map({ $0.dropped == 0 && $0.cut == 0 }) ?? true) {
            fatalError("invariant broken: entries include/exclude leave out were kept or counted")
        }
    }
    return 0
}

/// The same bytes as a reservation's answer and as a caller's attributes:
/// a number comes back only when it is one, and a body is only ever built
/// around an object holding the reservation's own shared id.
private func checkReservation(_ body: [UInt8], status: Int) {
    func require(_ condition: Bool, _ what: String) {
        if !condition { fatalError("invariant broken: \(what)") }
    }
    let reservation = ReservationDecoder.reservation(.response(status: status == 404 ? 409 : 200, body: body), timeoutMs: 1)
    require((reservation.dni != nil) == (reservation.status == .ok), "a dni exactly when ok")
    if let dni = reservation.dni {
        require(ReservationDecoder.isPhoneNumber(dni), "dni is a phone number")
        require(dni.utf8.allSatisfy { $0 == UInt8(ascii: "+") || ($0 >= 48 && $0 <= 57) }, "dni bytes")
    }
    if case .success(let post) = ReservationAttributes.body(sharedID: "fuzz-id", json: body) {
        guard let value = try? JSONDecoder.decode(post, maxDepth: Limits.maxAttributesDepth + 1),
              case .object(let members)? = value["attributes"] else {
            return require(false, "the body built is not {\"attributes\": {...}}")
        }
        require(members.filter { $0.key == "shared_id" } == [JSONMember("shared_id", .string("fuzz-id"))], "one shared_id, the reservation's")
    }
}

private func check(_ result: RenderedResult, _ options: RenderOptions, _ outcome: Renderer.Outcome) {
    func require(_ condition: Bool, _ what: String) {
        if !condition { fatalError("invariant broken: \(what)") }
    }
    require(result.entries.count <= options.maxEntries, "entry count")
    require(result.headerBlock.utf8.count <= options.maxHeaderBlockBytes, "header block size")
    require(result.headerBlock.hasPrefix("X-PolyAI-Handoff-Status: \(result.status.nameString)\r\n"), "status first")
    var headers = Set<String>()
    var variables = Set<String>()
    for entry in result.entries {
        require(entry.value.utf8.count <= options.maxValueBytes, "value size")
        require(!entry.value.unicodeScalars.contains(where: SafeText.isUnsafe), "control character in value")
        require(!entry.key.unicodeScalars.contains(where: SafeText.isUnsafe), "control character in key")
        require(!entry.headerName.isEmpty && entry.headerName.utf8.allSatisfy(TextRules.isTokenByte), "header name")
        require(entry.variableName.utf8.allSatisfy(TextRules.isVariableByte), "variable name")
        require(headers.insert(entry.headerName.lowercased()).inserted, "unique header name")
        require(variables.insert(entry.variableName).inserted, "unique variable name")
    }
    for line in result.headerBlock.split(separator: "\r\n") {
        require(!line.contains("\r") && !line.contains("\n"), "CR/LF inside a header line")
    }
    require(!result.variablesBlock.contains("\r"), "CR in variables")
    require(result.variablesBlock.split(separator: "\n").count == result.entries.count + 1
        + (result.conversationID == nil ? 0 : 1) + (result.sharedID == nil ? 0 : 1), "one line per variable")
    if result.status == .ok {
        // Flattening jansson's tree in place gives what flattening the
        // parsed value gives.
        let again = Flattener(options: options).flatten(result.data)
        require(again.pairs.map(\.key) == outcome.flat?.pairs.map(\.key), "jansson and JSONValue flatten alike")
        require(again.dropped == outcome.flat?.dropped, "same drops")
        // What we hand back as data_json must itself parse to the same data.
        guard let again = try? JSONDecoder.decode(Array(result.dataJSON.utf8)) else {
            fatalError("data_json does not parse: \(result.dataJSON)")
        }
        require(CompactJSON.string(again) == result.dataJSON, "data_json round trip")
    }
}
