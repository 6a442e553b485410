#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads small local files (configuration, API key, CA bundle) without
/// Foundation, and only regular files: opening a FIFO nobody writes to would
/// block start-up forever, a directory or a device is never what was meant.
/// Symbolic links to regular files are followed (Kubernetes secrets are
/// links).
enum FileAccess {
    /// Why a file was refused; `message` names the path (quoted) but not the
    /// setting, which the caller adds.
    struct Failure: Error, Equatable { let message: String }

    /// A file's bytes and its permission bits.
    struct Contents {
        let bytes: [UInt8]
        /// The mode's permission bits, e.g. 0o640.
        let permissions: UInt32

        /// Readable by anyone but the owner.
        var isReadableByOthers: Bool { permissions & 0o044 != 0 }
    }

    /// Refuses what `read` would refuse, without reading: for a setting
    /// checked now and read later.
    static func check(_ path: String) throws(Failure) {
        close(try openRegular(path).fd)
    }

    /// The whole file, refusing anything but a regular file and one larger
    /// than `limit` bytes.
    static func read(_ path: String, limit: Int) throws(Failure) -> Contents {
        let (fd, info) = try openRegular(path)
        defer { close(fd) }
        let tooLarge = Failure(message: "\(TextRules.quoted(path)) is larger than \(limit) bytes")
        guard info.st_size <= limit else { throw tooLarge }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(message: "cannot read \(TextRules.quoted(path)) (\(describe(errno)))")
            }
            if count == 0 { return Contents(bytes: bytes, permissions: UInt32(info.st_mode) & 0o7777) }
            bytes.append(contentsOf: chunk.prefix(count))
            // The file may have grown since fstat.
            if bytes.count > limit { throw tooLarge }
        }
    }

    /// An open descriptor of a regular file. O_NONBLOCK makes opening a FIFO
    /// return at once instead of waiting for a writer (it changes nothing
    /// for a regular file); fstat on the descriptor, not the path, so what
    /// is checked is what is read.
    private static func openRegular(_ path: String) throws(Failure) -> (fd: Int32, info: stat) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw Failure(message: "cannot open \(TextRules.quoted(path)) (\(describe(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw Failure(message: "cannot read \(TextRules.quoted(path))")
        }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG else {
            close(fd)
            throw Failure(message: "\(TextRules.quoted(path)) is not a regular file (\(name(ofKind: kind)))")
        }
        return (fd, info)
    }

    private static func name(ofKind kind: mode_t) -> String {
        switch kind {
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a plain file"
        }
    }

    /// The usual errors in words; strerror is not thread-safe.
    private static func describe(_ code: Int32) -> String {
        switch code {
        case ENOENT: "no such file"
        case EACCES: "permission denied"
        case ENOTDIR: "a part of the path is not a directory"
        case ELOOP: "too many symbolic links"
        case ENAMETOOLONG: "name too long"
        case EISDIR: "a directory"
        default: SystemError.describe(code)
        }
    }
}
