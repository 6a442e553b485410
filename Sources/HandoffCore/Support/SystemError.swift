#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// errno values in words an operator can search for.
enum SystemError {
    /// "Too many open files (EMFILE: the process's descriptor limit, ulimit -n)".
    static func describe(_ code: Int32) -> String {
        let text = strerror(code).map { String(cString: $0) } ?? "error \(code)"
        switch code {
        case EMFILE: return "\(text) (EMFILE: the process's descriptor limit, ulimit -n)"
        case ENFILE: return "\(text) (ENFILE: the system's descriptor limit)"
        case ENOBUFS, ENOMEM: return "\(text) (the kernel is out of socket memory)"
        default: return text
        }
    }
}
