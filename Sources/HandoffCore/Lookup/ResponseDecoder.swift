/// Maps what the API answered to a lookup outcome, following the documented
/// responses: 200 `{id, shared_id?, data}`, errors `{error_message}`.
enum ResponseDecoder {
    /// `flattener` flattens `data` while the parse tree is alive; it must use
    /// the same options as the Renderer the outcome goes to.
    static func outcome(_ http: HTTPOutcome, timeoutMs: Int, flattener: Flattener = Flattener(options: RenderOptions())) -> Renderer.Outcome {
        switch http {
        case .timedOut:
            return .init(status: .timeout, errorMessage: "no complete answer within \(timeoutMs) ms")
        case .bodyTooLarge(let status, let limit):
            return .init(status: .protocol, httpStatus: status, errorMessage: "response body larger than max_response_bytes (\(limit))")
        case .failed(let reason, _), .notConnected(let reason), .proxyRefused(let reason, _):
            return .init(status: .network, errorMessage: reason)
        case .malformed(let reason):
            return .init(status: .protocol, errorMessage: reason)
        case .response(let status, let body):
            return status == 200 ? success(body, flattener: flattener) : failure(status: status, body: body)
        }
    }

    static func success(_ body: [UInt8], flattener: Flattener) -> Renderer.Outcome {
        let document: HandoffDocument
        do {
            document = try JSONDecoder.decodeHandoff(body, flattener: flattener)
        } catch {
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response: \(error.message)")
        }
        guard case .string(let id) = document.id else {
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response without a string \"id\"")
        }
        guard document.dataIsObject else {
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response without an object \"data\"")
        }
        var sharedID: String? = nil
        switch document.sharedID {
        case .string(let text): sharedID = text
        case .missing, .null: break
        case .other:
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response with a non-string \"shared_id\"")
        }
        var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
        outcome.conversationID = id
        outcome.sharedID = sharedID
        outcome.flat = document.flat
        // data_json is rarely read: keep the body and parse it again if asked.
        outcome.source = .body(body)
        return outcome
    }

    static func failure(status: Int, body: [UInt8]) -> Renderer.Outcome {
        let mapped: HandoffStatus
        switch status {
        case 400: mapped = .badRequest
        case 401: mapped = .unauthorized
        case 403: mapped = .forbidden
        case 404: mapped = .notFound
        case 500...599: mapped = .serverError
        case 300...399:
            return .init(status: .protocol, httpStatus: status,
                         errorMessage: "unexpected redirect (HTTP \(status)); redirects are never followed")
        default:
            let detail = errorMessage(body).map { ": \($0)" } ?? ""
            return .init(status: .protocol, httpStatus: status, errorMessage: "unexpected HTTP status \(status)\(detail)")
        }
        return .init(status: mapped, httpStatus: status, errorMessage: errorMessage(body) ?? "HTTP \(status)")
    }

    /// The API's `error_message`, when the body is the documented error object.
    static func errorMessage(_ body: [UInt8]) -> String? {
        guard case .string(let message)? = (try? JSONDecoder.decode(body))?["error_message"], !message.isEmpty else {
            return nil
        }
        return message
    }
}
