import Glibc
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 for client tests: answers each request
/// with the next scripted response (the last one repeats), keeps connections
/// alive, and counts what it saw. A request is counted when it has arrived,
/// before its reply is sent, so a count read after a response is final.
final class ScriptedServer: @unchecked Sendable {
    struct Reply: Sendable {
        var status = 200
        var body = #"{"id":"c-1","shared_id":"s-1","data":{"queue":"gold"}}"#
        var delayMs = 0
        /// Sent only once the test calls `release()` (or `stop()`): the test,
        /// not a clock, decides when the client gets its answer.
        var held = false
    }

    let port: Int
    private let listener: Int32
    private let script: Mutex<[Reply]>
    private let counts = Mutex((requests: 0, connections: 0))
    /// Set by the first stop(); `stopped` only once the listener is shut down.
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let released = Atomic<Bool>(false)
    /// Set by the accept loop once it has closed the listener.
    private let closed = Atomic<Bool>(false)

    var requests: Int { counts.withLock { $0.requests } }
    var connections: Int { counts.withLock { $0.connections } }

    init(_ replies: [Reply]) {
        script = Mutex(replies)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(listener, 128)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Self.spawn { [self] in acceptLoop() }
    }

    /// Lets every held reply go, now and from now on.
    func release() { released.store(true, ordering: .releasing) }

    /// Wakes the accept loop (shutdown makes a pending or next accept()
    /// fail) and waits until it has closed the listener. Only the loop
    /// closes it, and only once it is shut down: closed here, the
    /// descriptor could be reused by the next test's socket while the loop
    /// is about to call accept() on it.
    func stop() {
        release()
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        stopped.store(true, ordering: .releasing)
        _ = waitUntil { closed.load(ordering: .acquiring) }
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private func acceptLoop() {
        defer {
            close(listener)
            closed.store(true, ordering: .releasing)
        }
        while !stopped.load(ordering: .acquiring) {
            let connection = accept(listener, nil, nil)
            // Shut down, or a passing error: the loop ends only once stop() has shut the listener down.
            guard connection >= 0 else {
                usleep(1_000)
                continue
            }
            counts.withLock { $0.connections += 1 }
            Self.spawn { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            pending += buffer.prefix(count)
            while let end = Self.endOfHeaders(pending) {
                pending.removeFirst(end)
                let reply = script.withLock { script in script.count > 1 ? script.removeFirst() : script[0] }
                counts.withLock { $0.requests += 1 }
                if reply.held { _ = waitUntil { released.load(ordering: .acquiring) } }
                if reply.delayMs > 0 { usleep(UInt32(reply.delayMs) * 1000) }
                let head = "HTTP/1.1 \(reply.status) X\r\nContent-Type: application/json\r\nContent-Length: \(reply.body.utf8.count)\r\n\r\n"
                let bytes = Array((head + reply.body).utf8)
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    private static func endOfHeaders(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private final class Box: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func spawn(_ body: @escaping () -> Void) {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            box.body()
            return nil
        }, box)
        pthread_detach(thread)
    }
}
