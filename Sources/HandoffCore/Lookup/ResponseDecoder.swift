/// Maps what the API answered to a lookup outcome, following the documented
/// responses: 200 `{id, shared_id?, data}`, errors `{error_message}`.
enum ResponseDecoder {
    static func outcome(_ http: HTTPOutcome, timeoutMs: Int) -> Renderer.Outcome {
        switch http {
        case .timedOut:
            return .init(status: .timeout, errorMessage: "no complete answer within \(timeoutMs) ms")
        case .bodyTooLarge(let status, let limit):
            return .init(status: .protocol, httpStatus: status, errorMessage: "response body larger than max_response_bytes (\(limit))")
        case .failed(let reason, _):
            return .init(status: .network, errorMessage: reason)
        case .response(let status, let body):
            return status == 200 ? success(body) : failure(status: status, body: body)
        }
    }

    static func success(_ body: [UInt8]) -> Renderer.Outcome {
        let document: JSONValue
        do {
            document = try JSONDecoder.decode(body)
        } catch {
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response: \(error.message)")
        }
        guard case .string(let id)? = document["id"] else {
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response without a string \"id\"")
        }
        guard let data = document["data"], case .object = data else {
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response without an object \"data\"")
        }
        var sharedID: String? = nil
        switch document["shared_id"] {
        case .string(let text)?: sharedID = text
        case nil, .null?: break
        default:
            return .init(status: .protocol, httpStatus: 200, errorMessage: "200 response with a non-string \"shared_id\"")
        }
        var outcome = Renderer.Outcome(status: .ok, httpStatus: 200)
        outcome.conversationID = id
        outcome.sharedID = sharedID
        outcome.data = data
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
