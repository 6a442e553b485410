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
        case .body:
            break  // GET bodies carry nothing the API reads.
        case .end:
            guard let head = requestHead else { return }
            requestHead = nil
            let reply = router.reply(to: head, connectionCounted: &connectionCounted)
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
