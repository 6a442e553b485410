#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
private import CCurl

// Every libcurl call of the library is in this file and CurlLoop.swift. Each C
// resource is owned by a final class whose deinit frees it.

/// curl_global_init, exactly once per process, never undone (a library must
/// not call curl_global_cleanup under a host that may use curl itself).
enum CurlRuntime {
    static let isReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// The header lists of a client's requests: lookups' (GET, the lookup key)
/// and reservations' (POST, the DNI key, a JSON body), with the proxy
/// credentials of the same generation; and the `resolve` overrides, a list
/// of the same kind.
final class RequestHeaders: Sendable {
    let resolve: CurlHeaderList?
    /// Replaced whole when a secret file is rotated; a transfer keeps the lists
    /// it set on its handle alive until it takes newer ones.
    private let current: Locked<(lists: HeaderLists, version: Int)>
    private let latest = Atomic<Int>(0)

    init(_ settings: TransportSettings) {
        current = Locked((HeaderLists(lookup: settings.headers, reservation: settings.postHeaders,
                                      proxyCredentials: settings.proxyCredentials), 0))
        resolve = settings.resolve.isEmpty ? nil : CurlHeaderList(settings.resolve)
    }

    /// One atomic load: what a transfer compares with the version it holds.
    var version: Int { latest.load(ordering: .acquiring) }

    var snapshot: (lists: HeaderLists, version: Int) { current.withLock { $0 } }

    func replace(lookup: [String], reservation: [String], proxyCredentials: String?) {
        let lists = HeaderLists(lookup: lookup, reservation: reservation, proxyCredentials: proxyCredentials)
        let version = current.withLock { state -> Int in
            state = (lists, state.version + 1)
            return state.version
        }
        latest.store(version, ordering: .releasing)
    }
}

/// The header lists of one generation of keys, and its proxy credentials.
final class HeaderLists: Sendable {
    let lookup: CurlHeaderList
    let reservation: CurlHeaderList
    /// "user:password" for the proxy, from proxy_auth_file.
    let proxyCredentials: String?

    init(lookup: [String], reservation: [String], proxyCredentials: String?) {
        self.lookup = CurlHeaderList(lookup)
        self.reservation = CurlHeaderList(reservation)
        self.proxyCredentials = proxyCredentials
    }
}

/// A header list set on transfers of a client; libcurl only reads it.
final class CurlHeaderList: @unchecked Sendable {
    fileprivate let list: UnsafeMutablePointer<curl_slist>?

    init(_ lines: [String]) {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for line in lines {
            guard let appended = curl_slist_append(list, line) else { continue }
            list = appended
        }
        self.list = list
    }

    deinit { curl_slist_free_all(list) }
}

/// DNS answers and TLS sessions shared by every transfer of a client, so a
/// new connection skips the resolver and resumes the TLS session; and the
/// tally of the connections they opened.
final class CurlShare: @unchecked Sendable {
    fileprivate let handle: UnsafeMutableRawPointer?
    let connections = ConnectionTally()
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private static let lockCount = Int(CURL_LOCK_DATA_LAST.rawValue)

    init() {
        locks = .allocate(capacity: Self.lockCount)
        for index in 0..<Self.lockCount { Lock.initAdaptive(locks + index) }
        handle = curl_share_init()
        guard let handle else { return }
        _ = handoff_curl_share_set_lock(handle) { _, data, _, user in
            guard let user, Int(data.rawValue) < CurlShare.lockCount else { return }
            pthread_mutex_lock(user.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        _ = handoff_curl_share_set_unlock(handle) { _, data, user in
            guard let user, Int(data.rawValue) < CurlShare.lockCount else { return }
            pthread_mutex_unlock(user.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        _ = handoff_curl_share_set_userdata(handle, UnsafeMutableRawPointer(locks))
        _ = handoff_curl_share_set_long(handle, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
        _ = handoff_curl_share_set_long(handle, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
    }

    deinit {
        if let handle { ForkGuard.sheltered { curl_share_cleanup(handle) } }
        for index in 0..<Self.lockCount { pthread_mutex_destroy(locks + index) }
        locks.deallocate()
    }
}

/// One easy handle with its response buffer and error text, configured with
/// every option a client's transfers share. A transfer is used by one thread
/// at a time: a lookup's own (in a `TransferSlot`) or the I/O thread's.
final class CurlTransfer: @unchecked Sendable {
    // @unchecked: used by one thread at a time (see above).
    let easy: UnsafeMutableRawPointer
    /// False once configure() failed after a reset: without every option
    /// (no proxy, TLS 1.2, verification) the handle must not be used.
    private(set) var configured = true
    private let errorText: UnsafeMutablePointer<CChar>
    private let headers: RequestHeaders
    /// The lists set on the handle now, and their version.
    private var lists: HeaderLists
    private var listsVersion: Int
    private let share: CurlShare
    let settings: TransportSettings
    /// The handle is set up for a POST (a reservation) rather than a GET.
    private var posting = false
    /// Where the sockets libcurl opens through this handle are recorded.
    private let sockets: SocketLedger
    fileprivate var body: [UInt8] = []
    fileprivate var overLimit = false
    /// The pre-request callback is on the handle (a warm-up), and was
    /// reached: the connection was ready and nothing was sent.
    private var abortsBeforeRequest = false
    fileprivate var reachedRequest = false
    /// CURLOPT_DNS_CACHE_TIMEOUT on the handle now (libcurl's default after
    /// a reset).
    private var dnsCacheSeconds = Limits.dnsCacheSeconds
    /// The ports and peer address of the connection a warm-up reached (0,
    /// nil: none yet).
    fileprivate var reachedLocalPort = 0
    fileprivate var reachedPeerPort = 0
    fileprivate var reachedPeerAddress: [UInt8]? = nil

    /// The I/O thread's: never reuses a connection idle for
    /// connection_max_idle_ms (its keep-warm leaves a replaced connection
    /// to age out, and a server may close one idle past it).
    private let limitsIdleAge: Bool

    /// `reserveBody`: room for a typical answer up front, for a slot that a
    /// lookup reuses; the I/O thread's transfers, by the thousand, grow theirs
    /// as answers come.
    init?(settings: TransportSettings, headers: RequestHeaders, share: CurlShare, sockets: SocketLedger, reserveBody: Bool = true,
          limitsIdleAge: Bool = false) {
        guard CurlRuntime.isReady, let easy = curl_easy_init() else { return nil }
        self.easy = easy
        self.limitsIdleAge = limitsIdleAge
        self.headers = headers
        (lists, listsVersion) = headers.snapshot
        self.share = share
        self.settings = settings
        self.sockets = sockets
        errorText = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorText.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        if reserveBody { body.reserveCapacity(min(settings.maxResponseBytes, 16384)) }
        guard configure() else { return nil }
    }

    deinit {
        ForkGuard.sheltered { curl_easy_cleanup(easy) }
        errorText.deallocate()
    }

    /// The options every transfer shares, set once (and again after
    /// `curl_easy_reset`, see `finish`).
    private func configure() -> Bool {
        let longs: [(CURLoption, Int)] = [
            (CURLOPT_NOSIGNAL, 1),           // no SIGALRM in a host full of threads
            (CURLOPT_FOLLOWLOCATION, 0),     // the key must never travel to another host
            (CURLOPT_SSL_VERIFYPEER, 1),
            (CURLOPT_SSL_VERIFYHOST, 2),
            (CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2)),
            (CURLOPT_TCP_KEEPALIVE, 1),
            (CURLOPT_TCP_NODELAY, 1),
            (CURLOPT_QUICK_EXIT, 1),         // abandoning a stuck resolver must not block
            (CURLOPT_MAXFILESIZE, settings.maxResponseBytes),
        ]
        var ok = longs.allSatisfy { handoff_curl_set_long(easy, $0.0, $0.1) == CURLE_OK }
        if limitsIdleAge {
            // libcurl drops a connection idle for more than this many whole
            // seconds: ceil(max idle) - 1 never cuts sooner than asked.
            let seconds = (settings.connectionMaxIdleMs + 999) / 1000 - 1
            ok = ok && handoff_curl_set_long(easy, CURLOPT_MAXAGE_CONN, seconds) == CURLE_OK
        }
        ok = ok && handoff_curl_set_string(easy, CURLOPT_PROTOCOLS_STR, settings.allowsPlainHTTP ? "http,https" : "https") == CURLE_OK
        if let proxy = settings.proxy {
            // Chosen by the configuration: https tunnels through it with
            // CONNECT (the proxy sees only the host name, never the key).
            ok = ok && handoff_curl_set_string(easy, CURLOPT_PROXY, proxy.url) == CURLE_OK
            ok = ok && handoff_curl_set_string(easy, CURLOPT_NOPROXY, proxy.noProxy) == CURLE_OK
            ok = ok && handoff_curl_set_long(easy, CURLOPT_HTTPPROXYTUNNEL, 1) == CURLE_OK
            if let credentials = lists.proxyCredentials {
                ok = ok && handoff_curl_set_string(easy, CURLOPT_PROXYUSERPWD, credentials) == CURLE_OK
                ok = ok && handoff_curl_set_long(easy, CURLOPT_PROXYAUTH, 1 /* CURLAUTH_BASIC, a macro Swift cannot import */) == CURLE_OK
            }
        } else {
            // No proxy, whatever http_proxy, https_proxy or ALL_PROXY say: a
            // proxy the host set for other software would see the key.
            ok = ok && handoff_curl_set_string(easy, CURLOPT_PROXY, "") == CURLE_OK
            ok = ok && handoff_curl_set_string(easy, CURLOPT_NOPROXY, "*") == CURLE_OK
        }
        if let interface = settings.interface {
            ok = ok && handoff_curl_set_string(easy, CURLOPT_INTERFACE, interface) == CURLE_OK
        }
        let resolveMode: Int = switch settings.ipVersion {
        case .any: Int(CURL_IPRESOLVE_WHATEVER)
        case .v4: Int(CURL_IPRESOLVE_V4)
        case .v6: Int(CURL_IPRESOLVE_V6)
        }
        ok = ok && handoff_curl_set_long(easy, CURLOPT_IPRESOLVE, resolveMode) == CURLE_OK
        if let resolve = headers.resolve {
            ok = ok && handoff_curl_set_slist(easy, CURLOPT_RESOLVE, resolve.list) == CURLE_OK
        }
        ok = ok && handoff_curl_set_slist(easy, CURLOPT_HTTPHEADER, lists.lookup.list) == CURLE_OK
        posting = false
        ok = ok && handoff_curl_set_share(easy, share.handle) == CURLE_OK
        ok = ok && handoff_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorText)) == CURLE_OK
        ok = ok && handoff_curl_set_write(easy, writeBody) == CURLE_OK
        ok = ok && handoff_curl_set_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()) == CURLE_OK
        let ledger = Unmanaged.passUnretained(sockets).toOpaque()
        ok = ok && handoff_curl_set_open_socket(easy, openSocket) == CURLE_OK
        ok = ok && handoff_curl_set_pointer(easy, CURLOPT_OPENSOCKETDATA, ledger) == CURLE_OK
        ok = ok && handoff_curl_set_close_socket(easy, closeSocket) == CURLE_OK
        ok = ok && handoff_curl_set_pointer(easy, CURLOPT_CLOSESOCKETDATA, ledger) == CURLE_OK
        if let trust = settings.trustStore {
            // libcurl loads no CA file of its own; each new connection gets
            // the shared, already parsed store. Verification stays on.
            ok = ok && handoff_curl_set_string(easy, CURLOPT_CAINFO, nil) == CURLE_OK
            ok = ok && handoff_curl_set_string(easy, CURLOPT_CAPATH, nil) == CURLE_OK
            ok = ok && handoff_curl_set_ssl_ctx(easy, attachTrustStore) == CURLE_OK
            ok = ok && handoff_curl_set_pointer(easy, CURLOPT_SSL_CTX_DATA, trust.handle) == CURLE_OK
        } else if let caFile = settings.caFile {
            ok = ok && handoff_curl_set_string(easy, CURLOPT_CAINFO, caFile) == CURLE_OK
        }
        return ok
    }

    /// Clears the last response and sets this request's URL and timers;
    /// false if the handle cannot take it.
    func prepare(_ request: HTTPRequest) -> Bool {
        body.removeAll(keepingCapacity: true)
        overLimit = false
        reachedRequest = false
        reachedLocalPort = 0
        reachedPeerPort = 0
        reachedPeerAddress = nil
        errorText[0] = 0
        sockets.openError = 0
        guard configured, setWarmOnly(request.warmOnly), setDNSCacheSeconds(request.warmOnly ? 0 : Limits.dnsCacheSeconds),
              !request.freshConnection || handoff_curl_set_long(easy, CURLOPT_FRESH_CONNECT, 1) == CURLE_OK else { return false }
        // The library's deadline decides; libcurl's own timers, which round
        // to whole milliseconds, are set past it so they never fire first.
        let curlTimeoutMs = request.timeoutMs + Limits.curlTimerSlackMs
        let connectMs = settings.connectTimeoutMs.map { $0 < request.timeoutMs ? $0 : curlTimeoutMs } ?? curlTimeoutMs
        // A rotated key: the newer lists go on the handle (one atomic load
        // when nothing changed).
        var listsChanged = false
        if headers.version != listsVersion {
            (lists, listsVersion) = headers.snapshot
            listsChanged = true
        }
        // Rotated proxy credentials: new tunnels use them (a tunnel already
        // made stays as the proxy accepted it). If any option fails (out of
        // memory), the next request takes the lists again.
        guard setMethod(request.body, listsChanged: listsChanged),
              !listsChanged || settings.proxy == nil || lists.proxyCredentials.map({
                  handoff_curl_set_string(easy, CURLOPT_PROXYUSERPWD, $0) == CURLE_OK }) ?? true else {
            if listsChanged { listsVersion = -1 }
            return false
        }
        return handoff_curl_set_string(easy, CURLOPT_URL, request.url) == CURLE_OK
            && handoff_curl_set_long(easy, CURLOPT_TIMEOUT_MS, curlTimeoutMs) == CURLE_OK
            && handoff_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, connectMs) == CURLE_OK
    }

    /// A warm-up asks DNS again, whatever the shared cache holds, so a
    /// keep-warm replacement follows the API's name to where it points now.
    /// The cache's time goes back (`dnsAnswerKept`) once the cached answer
    /// was dropped: as the resolve starts, or, with no resolve (a pinned
    /// name, a reused connection), at the pre-request callback. libcurl
    /// prunes the shared cache with the handle's time as a transfer ends,
    /// and looks answers up with it while a resolve runs: at 0 it would
    /// drop the new answer and every other name's.
    private func setDNSCacheSeconds(_ seconds: Int) -> Bool {
        guard seconds != dnsCacheSeconds else { return true }
        guard handoff_curl_set_long(easy, CURLOPT_DNS_CACHE_TIMEOUT, seconds) == CURLE_OK else { return false }
        dnsCacheSeconds = seconds
        return true
    }

    fileprivate func dnsAnswerKept() {
        _ = setDNSCacheSeconds(Limits.dnsCacheSeconds)
    }

    /// A warm-up's handle stops each transfer once its connection is ready,
    /// before the request (libcurl's pre-request callback); a lookup's does not.
    private func setWarmOnly(_ warmOnly: Bool) -> Bool {
        guard warmOnly != abortsBeforeRequest else { return true }
        let me = warmOnly ? Unmanaged.passUnretained(self).toOpaque() : nil
        let ok = handoff_curl_set_prereq(easy, warmOnly ? stopBeforeRequest : nil) == CURLE_OK
            && handoff_curl_set_pointer(easy, CURLOPT_PREREQDATA, me) == CURLE_OK
            && handoff_curl_set_resolver_start(easy, warmOnly ? keepNextDNSAnswer : nil) == CURLE_OK
            && handoff_curl_set_pointer(easy, CURLOPT_RESOLVER_START_DATA, me) == CURLE_OK
        if ok { abortsBeforeRequest = warmOnly }
        return ok
    }

    /// A POST goes out on a new connection, always: libcurl silently sends
    /// a request again when a reused connection turns out dead before any
    /// answer, which for a reservation could reserve two numbers. (After it,
    /// `finish` resets the handle, back to GETs.)
    private func setMethod(_ body: [UInt8]?, listsChanged: Bool) -> Bool {
        guard let body else {
            guard posting else {
                return !listsChanged || handoff_curl_set_slist(easy, CURLOPT_HTTPHEADER, lists.lookup.list) == CURLE_OK
            }
            posting = false
            return handoff_curl_set_long(easy, CURLOPT_HTTPGET, 1) == CURLE_OK
                && handoff_curl_set_slist(easy, CURLOPT_HTTPHEADER, lists.lookup.list) == CURLE_OK
                && handoff_curl_set_long(easy, CURLOPT_FRESH_CONNECT, 0) == CURLE_OK
        }
        posting = true
        // The size first: COPYPOSTFIELDS then copies exactly that many bytes.
        guard handoff_curl_set_long(easy, CURLOPT_POSTFIELDSIZE, body.count) == CURLE_OK else { return false }
        let copied = body.withUnsafeBytes { bytes -> Bool in
            guard let base = bytes.baseAddress else { return false }
            return handoff_curl_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base)) == CURLE_OK
        }
        return copied
            && handoff_curl_set_slist(easy, CURLOPT_HTTPHEADER, lists.reservation.list) == CURLE_OK
            && handoff_curl_set_long(easy, CURLOPT_FRESH_CONNECT, 1) == CURLE_OK
    }

    /// Once the handle has left its multi handle. After a transfer that
    /// opened a connection, the handle is reset and configured again:
    /// libcurl counts "connection died" retries on the easy handle and only
    /// curl_easy_reset clears the count, so on a long-lived handle every
    /// sixth reuse of a connection the server had closed failed outright.
    /// New connections are rare, so this costs nothing on the warm path.
    /// Returns the HTTP version of the new connection, nil if none was made.
    /// `version`: the HTTP version of a warm-up's connection, which libcurl
    /// only learns from a response.
    /// `warmedAndKept`: a warm-up whose connection stays open for lookups.
    func finish(version known: Int? = nil, warmedAndKept: Bool = false) -> Int? {
        var connects = 0
        _ = handoff_curl_get_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        guard connects > 0 else { return nil }
        var version = known ?? 0
        if known == nil { _ = handoff_curl_get_long(easy, CURLINFO_HTTP_VERSION, &version) }
        share.connections.record(httpVersion: version, count: connects, warmedAndKept: warmedAndKept)
        ForkGuard.sheltered { curl_easy_reset(easy) }
        abortsBeforeRequest = false
        dnsCacheSeconds = Limits.dnsCacheSeconds
        configured = configure()
        return version
    }

    /// After a warm-up's transfer ended: libcurl kept its connection (it is
    /// multiplexed; an HTTP/1.1 one it closed). Found by its ports among the
    /// sockets still open: libcurl names no socket for a transfer that ended
    /// on a connection other transfers still use.
    var connectionKept: Bool {
        reachedRequest && sockets.isOpen(localPort: reachedLocalPort, peerPort: reachedPeerPort, peerAddress: reachedPeerAddress)
    }

    /// A failure that was the proxy's, said so: an operator must not go
    /// looking for the API's fault.
    private func proxyFailure(_ code: CURLcode, _ proxy: String) -> HTTPOutcome? {
        var connectCode = 0
        _ = handoff_curl_get_long(easy, CURLINFO_HTTP_CONNECTCODE, &connectCode)
        if connectCode >= 300 {
            return .proxyRefused("the proxy \(proxy) refused the CONNECT tunnel (it answered HTTP \(connectCode))", code: connectCode)
        }
        if code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_PROXY {
            let detail = String(cString: errorText)
            return .notConnected("cannot reach the proxy \(proxy): \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)")
        }
        return nil
    }

    private var responseStatus: Int {
        var status = 0
        _ = handoff_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    /// A warm-up's end: stopped at the request means the connection was
    /// ready; anything else is why it could not be made.
    func warmOutcome(rawCode: UInt32) -> WarmOutcome {
        if CURLcode(rawValue: rawCode) == CURLE_ABORTED_BY_CALLBACK, reachedRequest { return .ready }
        switch outcome(rawCode: rawCode) {
        case .timedOut: return .timedOut
        case .failed(let why, _), .notConnected(let why), .malformed(let why), .proxyRefused(let why, _): return .failed(why)
        case .response(let status, _), .bodyTooLarge(let status, _): return .failed("unexpected HTTP \(status) before any request")
        }
    }

    /// `rawCode`: the transfer's CURLcode (CurlLoop.swift passes it raw:
    /// libcurl's types stay private to the files that call it).
    func outcome(rawCode: UInt32) -> HTTPOutcome {
        let code = CURLcode(rawValue: rawCode)
        switch code {
        case CURLE_OK:
            // A copy of exactly the body's size: the result keeps it (for
            // data_json) while this handle's buffer stays unshared, so the
            // next transfer on another thread does not allocate a new one.
            return .response(status: responseStatus, body: exactCopy(of: body))
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_FILESIZE_EXCEEDED:
            return .bodyTooLarge(status: responseStatus, limit: settings.maxResponseBytes)
        case CURLE_WRITE_ERROR where overLimit:
            return .bodyTooLarge(status: responseStatus, limit: settings.maxResponseBytes)
        case CURLE_OUT_OF_MEMORY:
            // libcurl's answer to a header line over 100 KB (or headers over
            // 300 KB in all) is "Out of memory", which sends an operator the
            // wrong way.
            return .malformed("response headers too large for libcurl (a header line over 100 KB or over 300 KB in all), or libcurl ran out of memory")
        default:
            if let proxy = settings.proxy?.url, let failure = proxyFailure(code, proxy) { return failure }
            if code == CURLE_COULDNT_CONNECT, sockets.openError != 0 {
                // "Couldn't connect to server" hides that no socket could be made.
                return .failed("cannot open a socket: \(SystemError.describe(sockets.openError))", retryable: false)
            }
            // curl's error buffer is the specific message; its strerror the fallback.
            let detail = String(cString: errorText)
            let summary = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            if code == CURLE_COULDNT_CONNECT { return .notConnected(summary) }
            let retryable = [CURLE_COULDNT_CONNECT, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
                             CURLE_PARTIAL_FILE].contains(code)
            return .failed(summary, retryable: retryable)
        }
    }
}

/// One transfer in its own multi handle: the calling thread drives it and
/// waits on its own deadline, and the multi handle keeps the connection
/// alive for the next lookup that takes this slot.
final class TransferSlot: @unchecked Sendable {
    // @unchecked: a slot is used by one thread at a time, checked out of the pool.
    private let transfer: CurlTransfer
    /// For a warm-up's own transfer, made like `transfer`.
    private let make: () -> CurlTransfer?
    /// nil only if a replacement could not be made (out of memory): the
    /// slot then fails its transfers.
    private var multi: UnsafeMutableRawPointer?
    /// The connections are HTTP/1.1, where nothing arrives while idle.
    private var idleReadsMeanClosed = true
    /// The sockets libcurl opened through this slot, kept apart from the slot
    /// so that libcurl can close them while the slot is being torn down.
    private let sockets = SocketLedger()

    init?(settings: TransportSettings, headers: RequestHeaders, share: CurlShare) {
        guard let transfer = CurlTransfer(settings: settings, headers: headers, share: share, sockets: sockets) else { return nil }
        guard let multi = CurlMulti.make() else { return nil }
        self.transfer = transfer
        self.multi = multi
        let sockets = sockets
        make = { CurlTransfer(settings: settings, headers: headers, share: share, sockets: sockets, reserveBody: false) }
    }

    deinit {
        // The multi handle goes first: it closes the connections through
        // callbacks that still need the ledger, and detaches nothing.
        if let multi { ForkGuard.sheltered { curl_multi_cleanup(multi) } }
    }

    /// False once the slot cannot make transfers: its pool drops it.
    var isUsable: Bool { transfer.configured && multi != nil }

    func perform(_ request: HTTPRequest) -> HTTPOutcome {
        if let hedge = request.hedge, hedge.afterMs < request.timeoutMs { return performHedged(request, hedge) }
        return drive(request, on: transfer, done: transfer.outcome(rawCode:), timedOut: .timedOut) { .failed($0, retryable: false) }
    }

    /// The request, and after `hedge.afterMs` without an answer a second one
    /// on a handle of its own in the same multi handle (over HTTP/2 a second
    /// stream, over HTTP/1.1 a second connection), both inside the one
    /// deadline. The first answer wins; a failure waits for the other
    /// request while it runs. The loser is cancelled (removed from the multi
    /// handle: libcurl resets its stream, or closes its HTTP/1.1 connection).
    private func performHedged(_ request: HTTPRequest, _ hedge: Hedge) -> HTTPOutcome {
        let deadline = Deadline(milliseconds: request.timeoutMs)
        let hedgeAt = ContinuousClock.now.advanced(by: .milliseconds(hedge.afterMs))
        var plain = request
        plain.hedge = nil
        guard transfer.prepare(plain), let multi = dropConnectionsTheServerClosed() else {
            return .failed("could not create a libcurl handle", retryable: false)
        }
        guard curl_multi_add_handle(multi, transfer.easy) == CURLM_OK else { return .failed("could not start the transfer", retryable: false) }
        var second: CurlTransfer? = nil
        var firstDone: HTTPOutcome? = nil, secondDone: HTTPOutcome? = nil
        defer {
            finish(transfer, multi, warmOnly: false)
            if let second { finish(second, multi, warmOnly: false) }
        }
        while true {
            var running: Int32 = 0
            guard ForkGuard.sheltered({ curl_multi_perform(multi, &running) }) == CURLM_OK else { return .failed("transfer failed", retryable: false) }
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result.rawValue
                if easy == transfer.easy {
                    firstDone = transfer.outcome(rawCode: code)
                } else if let second, easy == second.easy {
                    secondDone = second.outcome(rawCode: code)
                }
            }
            // An answer wins at once; a failure only once the other request
            // is done too (or never started).
            if let outcome = firstDone, Self.isAnswer(outcome) { return outcome }
            if let outcome = secondDone, Self.isAnswer(outcome) {
                hedge.won()
                return outcome
            }
            if let outcome = firstDone, second == nil || secondDone != nil { return outcome }
            let remaining = deadline.remainingMs
            guard remaining > 0 else { return .timedOut }
            var waitMs = remaining
            if second == nil {
                let untilHedge = hedgeAt - ContinuousClock.now
                if untilHedge <= .zero {
                    if remaining >= Limits.minHedgeMs, hedge.mayStart() {
                        if let extra = make(), extra.prepare(plain), curl_multi_add_handle(multi, extra.easy) == CURLM_OK {
                            second = extra
                            hedge.sent()
                            continue
                        }
                        hedge.unspent()
                    }
                    // No budget (or no handle): this request alone, as usual.
                    second = nil
                    return waitAlone(multi, deadline: deadline, firstDone: firstDone)
                }
                let (seconds, attoseconds) = untilHedge.components
                waitMs = min(remaining, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000) + 1)
            }
            _ = curl_multi_poll(multi, nil, 0, Int32(clamping: waitMs), nil)
        }
    }

    /// The rest of a hedged lookup that sent no second request.
    private func waitAlone(_ multi: UnsafeMutableRawPointer, deadline: Deadline, firstDone: HTTPOutcome?) -> HTTPOutcome {
        if let firstDone { return firstDone }
        while true {
            var running: Int32 = 0
            guard ForkGuard.sheltered({ curl_multi_perform(multi, &running) }) == CURLM_OK else { return .failed("transfer failed", retryable: false) }
            if let code = finishedCode(multi) { return transfer.outcome(rawCode: code.rawValue) }
            let remaining = deadline.remainingMs
            guard remaining > 0 else { return .timedOut }
            _ = curl_multi_poll(multi, nil, 0, Int32(clamping: remaining), nil)
        }
    }

    /// An HTTP answer, whatever its status: what a hedged lookup takes.
    private static func isAnswer(_ outcome: HTTPOutcome) -> Bool {
        switch outcome {
        case .response, .bodyTooLarge: true
        default: false
        }
    }

    /// Makes the connection `request` would use, and sends nothing. Only on
    /// a new slot: libcurl closes an HTTP/1.1 connection whose transfer
    /// stops before the request, so a kept one would be lost. The warm-up
    /// has a handle of its own, freed after it, so the lookups' handle never
    /// carries the callback that stops before the request; the connection
    /// stays with the slot's multi handle.
    func warm(_ request: HTTPRequest) -> WarmOutcome {
        guard let warmUp = make() else { return .failed("could not create a libcurl handle") }
        var warmOnly = request
        warmOnly.warmOnly = true
        return drive(warmOnly, on: warmUp, done: warmUp.warmOutcome(rawCode:), timedOut: .timedOut) { .failed($0) }
    }

    /// True when the slot holds an open connection.
    var isConnected: Bool { sockets.count > 0 }

    /// Runs one transfer on this slot's multi handle until it ends or the
    /// deadline passes. `done` reads the outcome off the handle before
    /// `finish` may reset it.
    private func drive<T>(_ request: HTTPRequest, on transfer: CurlTransfer, done: (UInt32) -> T, timedOut: T,
                          failed: (String) -> T) -> T {
        let deadline = Deadline(milliseconds: request.timeoutMs)
        let easy = transfer.easy
        guard transfer.prepare(request), let multi = dropConnectionsTheServerClosed() else {
            return failed("could not create a libcurl handle")
        }
        guard curl_multi_add_handle(multi, easy) == CURLM_OK else { return failed("could not start the transfer") }
        defer { finish(transfer, multi, warmOnly: request.warmOnly) }

        while true {
            var running: Int32 = 0
            guard ForkGuard.sheltered({ curl_multi_perform(multi, &running) }) == CURLM_OK else { return failed("transfer failed") }
            if let code = finishedCode(multi) { return done(code.rawValue) }
            let remaining = deadline.remainingMs
            guard remaining > 0 else { return timedOut }
            _ = curl_multi_poll(multi, nil, 0, Int32(clamping: remaining), nil)
        }
    }

    private func finish(_ transfer: CurlTransfer, _ multi: UnsafeMutableRawPointer, warmOnly: Bool) {
        ForkGuard.sheltered { _ = curl_multi_remove_handle(multi, transfer.easy) }
        // A warm-up's connection that libcurl kept is multiplexed: it keeps
        // only those when a transfer stops before its request (HTTP/1.1
        // ones it closes). One that failed before it was ready spoke no HTTP.
        let ready = warmOnly && transfer.reachedRequest
        let known = ready ? Int(isConnected ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1) : nil
        guard let version = transfer.finish(version: known, warmedAndKept: ready && isConnected) else { return }
        // HTTP/2 servers send frames (PING, SETTINGS, GOAWAY) to idle
        // connections, which libcurl reads and handles itself.
        idleReadsMeanClosed = version < Int(CURL_HTTP_VERSION_2_0)
    }

    /// A kept-alive connection the server has closed (nginx sends a TLS
    /// close_notify, then FIN) is readable while idle; libcurl 7.88 takes
    /// the pending close_notify for "alive", writes the request into it and
    /// has to retry. Between transfers nothing may arrive on an HTTP/1.1
    /// connection, so a readable idle socket is a closed one: the slot's
    /// multi handle, which holds its connections, is replaced. An HTTP/2
    /// connection may get frames while idle, so there only the server's FIN
    /// counts: libcurl 7.88 reuses an HTTP/2 connection the server has shut
    /// (nginx after its idle timeout, a warmed one that never carried a
    /// request) and fails the lookup with "Error in the HTTP2 framing
    /// layer". nil when no multi handle could be made.
    private func dropConnectionsTheServerClosed() -> UnsafeMutableRawPointer? {
        guard let current = multi else { return nil }
        guard idleReadsMeanClosed ? sockets.anyReadable() : sockets.anyHungUp() else { return current }
        ForkGuard.sheltered { _ = curl_multi_cleanup(current) }
        multi = CurlMulti.make()
        return multi
    }

    private func finishedCode(_ multi: UnsafeMutableRawPointer) -> CURLcode? {
        var queued: Int32 = 0
        var code: CURLcode? = nil
        while let message = curl_multi_info_read(multi, &queued) {
            if message.pointee.msg == CURLMSG_DONE { code = message.pointee.data.result }
        }
        return code
    }
}

/// Multi handles whose internal wakeup socket pair is close-on-exec.
enum CurlMulti {
    static func make() -> UnsafeMutableRawPointer? {
        let free = Descriptors.freeDescriptorsAhead()
        guard let multi = curl_multi_init() else { return nil }
        Descriptors.markSocketPair(among: free)
        return multi
    }
}

/// The connection sockets of one slot, opened close-on-exec by `openSocket`,
/// each with its inode.
///
/// libcurl 7.88 closes a socket whose connect it abandons (a transfer
/// removed or timed out before TCP connected, a hedge cancelled then) with
/// close() rather than the close-socket callback, so the ledger never hears
/// of it. Its number is soon another descriptor's (the host's, often): taken
/// for ours, a regular file is always "readable", and every lookup of the
/// slot dropped its connection as closed by the server and paid a handshake.
/// An entry whose descriptor is gone or is no longer that socket is
/// therefore forgotten before the ledger is read.
final class SocketLedger: @unchecked Sendable {
    // @unchecked: used by the one thread that has the slot checked out (or tears it down).
    fileprivate var open: [Entry] = []

    /// A struct, not a tuple: its array's metadata is made once on the
    /// creating thread (ConnectionPool.warmUpTypes), never first on a
    /// library thread a fork could catch inside the runtime's locks.
    struct Entry {
        let fd: Int32
        let inode: UInt
    }
    /// errno of the last socket() that failed during a transfer, else 0.
    fileprivate var openError: Int32 = 0

    /// The connections open now.
    var count: Int {
        forgetClosed()
        return open.count
    }

    /// True when an idle connection has something to read: the server closed it.
    fileprivate func anyReadable() -> Bool {
        forgetClosed()
        return open.contains { Descriptors.isReadableNow($0.fd) }
    }

    /// True when the server shut down an idle connection (its FIN came).
    fileprivate func anyHungUp() -> Bool {
        forgetClosed()
        return open.contains { Descriptors.isHungUpNow($0.fd) }
    }

    /// True while a connection with these ports (and this peer address,
    /// when known) is open.
    fileprivate func isOpen(localPort: Int, peerPort: Int, peerAddress: [UInt8]?) -> Bool {
        forgetClosed()
        return open.contains { entry in
            guard let seen = Descriptors.endpoints(entry.fd), seen.localPort == localPort, seen.peerPort == peerPort else { return false }
            return peerAddress.map { $0 == seen.peerAddress } ?? true
        }
    }

    fileprivate func forgetClosed() {
        open.removeAll { Descriptors.socketInode($0.fd) != $0.inode }
    }
}

/// libcurl's socket(): close-on-exec from the start, so a host's system() or
/// fork+exec never inherits a connection (the server would not see it close).
private let openSocket: handoff_curl_open_socket_fn = { user, _, address in
    guard let user, let address else { return CURL_SOCKET_BAD }
    let ledger = Unmanaged<SocketLedger>.fromOpaque(user).takeUnretainedValue()
    let fd = socket(address.pointee.family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
    guard fd >= 0 else {
        ledger.openError = errno
        return CURL_SOCKET_BAD
    }
    // The kernel just handed out this number: an entry still holding it is
    // one libcurl closed behind the ledger's back. (No fstat sweep here: the
    // I/O thread's ledger can hold hundreds of connections.)
    ledger.open.removeAll { $0.fd == fd }
    ledger.open.append(SocketLedger.Entry(fd: fd, inode: Descriptors.socketInode(fd) ?? 0))
    return fd
}

private let closeSocket: handoff_curl_close_socket_fn = { user, fd in
    if let user {
        let ledger = Unmanaged<SocketLedger>.fromOpaque(user).takeUnretainedValue()
        if let index = ledger.open.firstIndex(where: { $0.fd == fd }) { ledger.open.remove(at: index) }
    }
    return close(fd)
}

/// A warm-up's pre-request callback: the connection is ready, the transfer
/// stops here and no request is sent.
private let stopBeforeRequest: handoff_curl_prereq_fn = { user, peerAddress, _, peerPort, localPort in
    if let user {
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
        transfer.reachedRequest = true
        transfer.reachedLocalPort = Int(localPort)
        transfer.reachedPeerPort = Int(peerPort)
        transfer.reachedPeerAddress = peerAddress.flatMap { Descriptors.addressBytes(String(cString: $0)) }
        transfer.dnsAnswerKept()
    }
    return Int32(CURL_PREREQFUNC_ABORT)
}

/// A warm-up's resolve starts: the cached answer is gone already (it asked
/// with a cache time of 0), and the new one must stay.
private let keepNextDNSAnswer: handoff_curl_resolver_start_fn = { _, _, user in
    if let user { Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue().dnsAnswerKept() }
    return 0
}

/// Called by libcurl for each new TLS connection, before the handshake.
private let attachTrustStore: handoff_curl_ssl_ctx_fn = { _, sslContext, store in
    guard let sslContext, let store else { return CURLE_SSL_CACERT_BADFILE }
    TrustStore.attach(store, to: sslContext)
    return CURLE_OK
}

/// A new array holding `bytes` in storage of exactly their size (`Array(x)`
/// would share x's buffer).
private func exactCopy(of bytes: [UInt8]) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
        count = buffer.initialize(fromContentsOf: bytes)
    }
}

/// Appends a chunk of body to the slot, refusing to grow past the cap.
private let writeBody: handoff_curl_write_fn = { data, size, count, user in
    guard let data, let user else { return 0 }
    let slot = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
    guard !overflow, bytes <= slot.settings.maxResponseBytes - slot.body.count else {
        slot.overLimit = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: bytes) {
        slot.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: bytes))
    }
    return bytes
}
