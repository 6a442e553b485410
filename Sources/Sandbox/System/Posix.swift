#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every libc call of the sandbox goes through here, so errors become one
/// Swift type with the errno text before they reach the rest of the code.
enum Posix {
    struct Failure: Error, CustomStringConvertible {
        let description: String

        init(_ what: String, _ path: String, errno code: Int32) {
            description = "\(what) \(path): \(String(cString: strerror(code)))"
        }

        init(_ message: String) {
            description = message
        }
    }

    /// Reads a whole file, refusing anything larger than `limit` bytes.
    static func readFile(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("cannot open", path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure("cannot read", path, errno: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= limit else { throw Failure("\(path) is larger than \(limit) bytes") }
        }
    }

    /// Writes `text` to a temporary file beside `path`, then renames it over
    /// `path`, so a reader polling for the file never sees it half written.
    static func writeFileAtomically(_ path: String, _ text: String) throws(Failure) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("cannot create", temporary, errno: errno) }
        let written = writeAll(fd, Array(text.utf8))
        let closed = close(fd) == 0
        guard written, closed else {
            let code = errno
            unlink(temporary)
            throw Failure("cannot write", temporary, errno: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw Failure("cannot rename \(temporary) to", path, errno: code)
        }
    }

    /// Unbuffered, so the listening line is out before anyone waits for it.
    static func writeLine(_ text: String, toStandardError: Bool = false) {
        _ = writeAll(toStandardError ? STDERR_FILENO : STDOUT_FILENO, Array((text + "\n").utf8))
    }

    /// Leaves SIGINT and SIGTERM to the dispatch sources that watch them.
    static func ignoreTerminationSignals() {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
    }

    /// SO_LINGER on with a zero timeout: close() then sends RST, not FIN.
    static var lingerForReset: linger { linger(l_onoff: 1, l_linger: 0) }

    static let terminationSignals: [Int32] = [SIGINT, SIGTERM]

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }
}
