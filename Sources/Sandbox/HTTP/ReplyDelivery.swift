import NIOCore
import NIOHTTP1

/// Carries out a `Reply`: the optional delay, then one of the delivery
/// modes. Timers run on the connection's event loop; no thread ever sleeps.
extension SandboxHTTPHandler {
    func deliver(_ reply: Reply, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        guard reply.delayMs > 0 else {
            send(reply, for: request, context: context)
            return
        }
        pendingTask = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(reply.delayMs))) {
            self.pendingTask = nil
            self.send(reply, for: request, context: context)
        }
    }

    private func send(_ reply: Reply, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        // A HEAD reply carries the headers of the body it does not send.
        let body = request.method == .HEAD ? [] : reply.body
        switch reply.delivery {
        case .whole:
            context.write(wrapOutboundOut(.head(responseHead(reply, for: request))), promise: nil)
            if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(buffer(body[...], context)))), promise: nil) }
            end(request, context: context)
        case .stallAfterHeaders:
            context.writeAndFlush(wrapOutboundOut(.head(responseHead(reply, for: request))), promise: nil)
        case .trickle(let milliseconds):
            context.writeAndFlush(wrapOutboundOut(.head(responseHead(reply, for: request))), promise: nil)
            trickle(body[...], every: milliseconds, for: request, context: context)
        case .reset:
            resetConnection(context: context)
        case .closeAfter(let count):
            context.write(wrapOutboundOut(.head(responseHead(reply, for: request))), promise: nil)
            let part = wrapOutboundOut(.body(.byteBuffer(buffer(body.prefix(count), context))))
            context.writeAndFlush(part).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// Sends one byte per tick, then ends the response.
    private func trickle(_ rest: ArraySlice<UInt8>, every milliseconds: Int, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        pendingTask = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
            self.pendingTask = nil
            guard context.channel.isActive else { return }
            guard !rest.isEmpty else {
                self.end(request, context: context)
                return
            }
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(self.buffer(rest.prefix(1), context)))), promise: nil)
            self.trickle(rest.dropFirst(), every: milliseconds, for: request, context: context)
        }
    }

    /// Ends the response and honours the request's keep-alive choice.
    private func end(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// SO_LINGER {on, 0} makes close() discard the socket with an RST instead of a FIN.
    private func resetConnection(context: ChannelHandlerContext) {
        guard let socket = context.channel as? SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        socket.setSoLinger(Posix.lingerForReset).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func responseHead(_ reply: Reply, for request: HTTPRequestHead) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(reply.body.count))
        for field in reply.extraHeaders { headers.remove(name: field.name) }
        for field in reply.extraHeaders { headers.add(name: field.name, value: field.value) }
        if !request.isKeepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if request.version.major == 1, request.version.minor == 0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        return HTTPResponseHead(
            version: request.version,
            status: HTTPResponseStatus(statusCode: reply.status),
            headers: headers
        )
    }

    private func buffer(_ bytes: ArraySlice<UInt8>, _ context: ChannelHandlerContext) -> ByteBuffer {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }
}
