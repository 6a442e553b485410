import NIOCore
import NIOHTTP1

/// One per connection, after NIO's HTTP/1.1 server pipeline. The pipelining
/// handler before it holds back request N+1 until reply N has ended, so this
/// handler only ever has one reply in flight.
final class SandboxHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: Router
    private var requestHead: HTTPRequestHead?
    private var body = RequestBody()
    private var connectionCounted = false
    /// The timer of a delayed or trickling reply, cancelled if the peer goes away.
    var pendingTask: Scheduled<Void>?

    init(router: Router) {
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestHead = head
            body = RequestBody()
            // libcurl asks before sending a larger POST body; without this it waits a second.
            if head.method == .POST, head.version == .http1_1,
               head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(let chunk):
            // Only reservations read a body; GET bodies carry nothing the API reads.
            if requestHead?.method == .POST { body.append(chunk) }
        case .end:
            guard let head = requestHead else { return }
            requestHead = nil
            let reply = router.reply(to: head, body: body, connectionCounted: &connectionCounted)
            body = RequestBody()
            deliver(reply, for: head, context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pendingTask?.cancel()
        pendingTask = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        pendingTask?.cancel()
        pendingTask = nil
        context.fireChannelInactive()
    }
}
