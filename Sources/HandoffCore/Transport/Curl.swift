#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
private import CCurl

// Every libcurl call of the library is in this file. Each C resource is owned
// by a final class whose deinit frees it.

/// curl_global_init, exactly once per process, never undone (a library must
/// not call curl_global_cleanup under a host that may use curl itself).
enum CurlRuntime {
    static let isReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// A header list set on every transfer of a client; libcurl only reads it.
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
/// new connection skips the resolver and resumes the TLS session.
final class CurlShare: @unchecked Sendable {
    fileprivate let handle: UnsafeMutableRawPointer?
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
        if let handle { curl_share_cleanup(handle) }
        for index in 0..<Self.lockCount { pthread_mutex_destroy(locks + index) }
        locks.deallocate()
    }
}

/// One easy handle in its own multi handle: the calling thread drives the
/// transfer and waits on its own deadline, and the multi handle keeps the
/// connection alive for the next lookup that takes this slot.
final class TransferSlot: @unchecked Sendable {
    // @unchecked: a slot is used by one thread at a time, checked out of the pool.
    private let easy: UnsafeMutableRawPointer
    private let multi: UnsafeMutableRawPointer
    private let errorText: UnsafeMutablePointer<CChar>
    private let headers: CurlHeaderList
    private let share: CurlShare
    private let settings: TransportSettings
    fileprivate var body: [UInt8] = []
    fileprivate var overLimit = false
    /// The fork generation that made this slot: a forked child must never touch it.
    let forkGeneration = ForkGeneration.current

    init?(settings: TransportSettings, headers: CurlHeaderList, share: CurlShare) {
        guard CurlRuntime.isReady, let easy = curl_easy_init() else { return nil }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(easy)
            return nil
        }
        self.easy = easy
        self.multi = multi
        self.headers = headers
        self.share = share
        self.settings = settings
        errorText = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorText.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        body.reserveCapacity(min(settings.maxResponseBytes, 16384))
        guard configure() else { return nil }
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_easy_cleanup(easy)
        errorText.deallocate()
    }

    /// The options every transfer shares, set once.
    private func configure() -> Bool {
        let longs: [(CURLoption, Int)] = [
            (CURLOPT_NOSIGNAL, 1),           // no SIGALRM in a host full of threads
            (CURLOPT_FOLLOWLOCATION, 0),     // the key must never travel to another host
            (CURLOPT_SSL_VERIFYPEER, 1),
            (CURLOPT_SSL_VERIFYHOST, 2),
            (CURLOPT_TCP_KEEPALIVE, 1),
            (CURLOPT_TCP_NODELAY, 1),
            (CURLOPT_QUICK_EXIT, 1),         // abandoning a stuck resolver must not block
            (CURLOPT_MAXFILESIZE, settings.maxResponseBytes),
        ]
        var ok = longs.allSatisfy { handoff_curl_set_long(easy, $0.0, $0.1) == CURLE_OK }
        ok = ok && handoff_curl_set_string(easy, CURLOPT_PROTOCOLS_STR, settings.allowsPlainHTTP ? "http,https" : "https") == CURLE_OK
        ok = ok && handoff_curl_set_slist(easy, CURLOPT_HTTPHEADER, headers.list) == CURLE_OK
        ok = ok && handoff_curl_set_share(easy, share.handle) == CURLE_OK
        ok = ok && handoff_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorText)) == CURLE_OK
        ok = ok && handoff_curl_set_write(easy, writeBody) == CURLE_OK
        ok = ok && handoff_curl_set_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()) == CURLE_OK
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

    func perform(_ request: HTTPRequest) -> HTTPOutcome {
        body.removeAll(keepingCapacity: true)
        overLimit = false
        errorText[0] = 0
        let deadline = Deadline(milliseconds: request.timeoutMs)
        let connectMs = min(settings.connectTimeoutMs ?? request.timeoutMs, request.timeoutMs)
        guard handoff_curl_set_string(easy, CURLOPT_URL, request.url) == CURLE_OK,
              handoff_curl_set_long(easy, CURLOPT_TIMEOUT_MS, request.timeoutMs) == CURLE_OK,
              handoff_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, connectMs) == CURLE_OK,
              curl_multi_add_handle(multi, easy) == CURLM_OK
        else { return .failed("could not start the transfer", retryable: false) }
        defer { curl_multi_remove_handle(multi, easy) }

        while true {
            var running: Int32 = 0
            guard curl_multi_perform(multi, &running) == CURLM_OK else { return .failed("transfer failed", retryable: false) }
            if let code = finishedCode() { return outcome(code) }
            let remaining = deadline.remainingMs
            guard remaining > 0 else { return .timedOut }
            _ = curl_multi_poll(multi, nil, 0, Int32(clamping: remaining), nil)
        }
    }

    private var responseStatus: Int {
        var status = 0
        _ = handoff_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    private func finishedCode() -> CURLcode? {
        var queued: Int32 = 0
        var code: CURLcode? = nil
        while let message = curl_multi_info_read(multi, &queued) {
            if message.pointee.msg == CURLMSG_DONE { code = message.pointee.data.result }
        }
        return code
    }

    private func outcome(_ code: CURLcode) -> HTTPOutcome {
        switch code {
        case CURLE_OK:
            // A copy of exactly the body's size: the result keeps it (for
            // data_json) while this slot's buffer stays unshared, so the next
            // transfer on another thread does not allocate a new one.
            return .response(status: responseStatus, body: exactCopy(of: body))
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_FILESIZE_EXCEEDED:
            return .bodyTooLarge(status: responseStatus, limit: settings.maxResponseBytes)
        case CURLE_WRITE_ERROR where overLimit:
            return .bodyTooLarge(status: responseStatus, limit: settings.maxResponseBytes)
        default:
            // curl's error buffer is the specific message; its strerror the fallback.
            let detail = String(cString: errorText)
            let summary = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            let retryable = [CURLE_COULDNT_CONNECT, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
                             CURLE_PARTIAL_FILE].contains(code)
            return .failed(summary, retryable: retryable)
        }
    }
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
    let slot = Unmanaged<TransferSlot>.fromOpaque(user).takeUnretainedValue()
    let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
    guard !overflow, bytes <= slot.settingsLimit - slot.body.count else {
        slot.overLimit = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: bytes) {
        slot.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: bytes))
    }
    return bytes
}

extension TransferSlot {
    fileprivate var settingsLimit: Int { settings.maxResponseBytes }
}
