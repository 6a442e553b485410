#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
private import CCurl
private import COpenSSL

/// The certificate authorities TLS connections trust, parsed once per process
/// for each CA file and given to every new connection's SSL_CTX.
///
/// Left to itself, libcurl parses the CA bundle again for each new handle's
/// first connection: 27 ms of CPU for Debian's 139 certificates, spent on the
/// calling thread inside curl_multi_perform, where no deadline can interrupt
/// it. 64 threads opening TLS connections at once overran their deadline by
/// two seconds; with one shared store a new connection costs well under 1 ms.
final class TrustStore: @unchecked Sendable {
    // @unchecked: OpenSSL reference-counts and locks an X509_STORE; once
    // loaded it is only read.
    private let store: OpaquePointer

    /// What libcurl's CURLOPT_SSL_CTX_DATA carries to the SSL_CTX callback.
    var handle: UnsafeMutableRawPointer { UnsafeMutableRawPointer(store) }

    private init(_ store: OpaquePointer) { self.store = store }

    deinit { ForkGuard.sheltered { X509_STORE_free(store) } }

    /// The store for `caFile`, or for libcurl's default bundle and directory
    /// when nil. nil when libcurl does not use OpenSSL (it then loads the CAs
    /// itself). Throws when `caFile` is not a regular file or holds no PEM
    /// certificate, so a broken file is a configuration error at start
    /// rather than failed lookups.
    ///
    /// The file is read and parsed outside the cache lock: a slow file must
    /// not hold up every other client being made. Two threads loading the
    /// same file at once both parse it; the first to insert wins.
    static func forCAFile(_ caFile: String?) throws(ConfigError) -> TrustStore? {
        guard let tls = handoff_curl_tls_version(), String(cString: tls).hasPrefix("OpenSSL/") else { return nil }
        let file = caFile ?? handoff_curl_default_ca_file().map { String(cString: $0) }
        let directory = caFile == nil ? handoff_curl_default_ca_path().map { String(cString: $0) } : nil
        // Per process: OpenSSL locks a store while it verifies, so a forked
        // child must not share its parent's (a handshake on another parent
        // thread at fork() would leave that lock held for good).
        let key = (["\(ForkGeneration.current)"] + [file, directory].map { $0.map(Self.identity) ?? "-" }).joined(separator: "\n")
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let loaded = try load(file: file, directory: directory, required: caFile != nil)
        // A store that lost the race is freed on return, outside the lock.
        return cache.withLock { (stores: inout [String: TrustStore]) -> TrustStore in
            if let first = stores[key] { return first }
            stores[key] = loaded
            return loaded
        }
    }

    /// Gives `store` (a `handle`) to a new connection's SSL_CTX.
    static func attach(_ store: UnsafeMutableRawPointer, to sslContext: UnsafeMutableRawPointer) {
        SSL_CTX_set1_cert_store(OpaquePointer(sslContext), OpaquePointer(store))
        // libcurl writes every TLS session's secrets to $SSLKEYLOGFILE when
        // it is set: with them, a capture shows the x-api-key.
        SSL_CTX_set_keylog_callback(OpaquePointer(sslContext), nil)
    }

    /// Parsed stores by file identity; a few per process, kept for its life.
    private static let cache: Locked<[String: TrustStore]> = {
        let cache = Locked<[String: TrustStore]>([:])
        ForkGuard.protect(cache)
        return cache
    }()

    /// Reads `file` with the library's own reader (regular files only, at
    /// most `Limits.maxCAFileBytes`) and parses it from memory, so OpenSSL
    /// never opens the path. Called with no lock held: it may log.
    private static func load(file: String?, directory: String?, required: Bool) throws(ConfigError) -> TrustStore {
        guard let store = X509_STORE_new() else { throw ConfigError("out of memory loading CA certificates") }
        let trust = TrustStore(store)
        var loaded = false
        if let file {
            do {
                let pem = try FileAccess.read(file, limit: Limits.maxCAFileBytes).bytes
                let added = ForkGuard.sheltered {
                    pem.withUnsafeBytes { buffer in
                        handoff_x509_store_add_pem(store, buffer.baseAddress, Int32(clamping: buffer.count))
                    }
                }
                loaded = added > 0
            } catch {
                if required { throw .invalid("ca_file", error.message) }
            }
        }
        // A hashed directory: OpenSSL opens only the files a verification
        // asks for, named by subject hash, not anything in it now.
        if let directory, ForkGuard.sheltered({ X509_STORE_load_path(store, directory) }) == 1 { loaded = true }
        // Nothing half-read stays on OpenSSL's per-thread error queue.
        ERR_clear_error()
        if required && !loaded {
            throw .invalid("ca_file", "no PEM certificate could be read from \(TextRules.quoted(file ?? ""))")
        }
        if !loaded {
            Log.write(.warning, "no CA certificates found at libcurl's default locations; TLS lookups will fail verification")
        }
        return trust
    }

    /// Path, device, inode, size and modification time: a changed file is
    /// read again by the next client made from it.
    private static func identity(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return path }
        return "\(path) \(info.st_dev) \(info.st_ino) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }
}
