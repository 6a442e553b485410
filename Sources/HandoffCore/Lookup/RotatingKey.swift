#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A secret read from a file that may be rewritten while the host runs
/// (Kubernetes and Vault rotate secrets by replacing a file, often through a
/// symlink swap). The file's identity (device, inode, size, modification
/// time, through symlinks) is checked at most once per
/// `Limits.keyRecheckMs`, never read on every lookup; it is read again when
/// it changed, and at once after a 401 or 403. A file that can no longer be
/// read, or whose first line is no key, leaves the key in use as it is and
/// is logged once, until it is good again.
final class RotatingKey: Sendable {
    let setting: String
    let path: String?
    /// The secret in a file's bytes, nil when its first line is not one.
    private let parse: @Sendable ([UInt8]) -> String?
    /// What the file holds, for the log line of one gone bad.
    private let holds: String
    private struct State {
        var secret: String
        var identity: [Int]
        var nextCheck: ContinuousClock.Instant
        var broken = false
        var version = 0
    }
    private let state: Locked<State>

    convenience init(_ key: APIKey, setting: String) {
        self.init(secret: key.secret, file: key.file, setting: setting, holds: "an API key", parse: APIKey.parse(fileBytes:))
    }

    init(secret: String, file: String?, setting: String, holds: String, parse: @escaping @Sendable ([UInt8]) -> String?) {
        self.setting = setting
        self.parse = parse
        self.holds = holds
        path = file
        state = Locked(State(secret: secret, identity: file.map(Self.identity) ?? [],
                             nextCheck: .now.advanced(by: .milliseconds(Limits.keyRecheckMs))))
    }

    var secret: String { state.withLock { $0.secret } }
    /// Bumped on every change of the secret.
    var version: Int { state.withLock { $0.version } }

    /// Checks the file if a check is due (`force`: now, after a 401/403).
    /// Returns true when the key changed. `log` gets the one line of a file
    /// gone bad; it runs with no lock held.
    @discardableResult
    func refresh(force: Bool = false, log: (LogLevel, String) -> Void) -> Bool {
        guard let path else { return false }
        let now = ContinuousClock.now
        let due = state.withLock { state -> [Int]? in
            guard force || now >= state.nextCheck else { return nil }
            state.nextCheck = now.advanced(by: .milliseconds(Limits.keyRecheckMs))
            return state.identity
        }
        guard let known = due else { return false }
        let identity = Self.identity(path)
        guard force || identity != known else { return false }
        // Read outside the lock: a slow file must not hold up lookups.
        var problem: String? = nil
        var fresh: String? = nil
        do {
            let contents = try FileAccess.read(path, limit: Limits.maxAPIKeyFileBytes)
            fresh = parse(contents.bytes)
            if fresh == nil { problem = "its first line is no longer \(holds)" }
        } catch {
            problem = error.message
        }
        let (changed, report) = state.withLock { state -> (Bool, Bool) in
            state.identity = identity
            guard let fresh else {
                defer { state.broken = true }
                return (false, !state.broken)
            }
            state.broken = false
            guard fresh != state.secret else { return (false, false) }
            state.secret = fresh
            state.version += 1
            return (true, false)
        }
        if report, let problem {
            log(.error, "\(setting) \(TextRules.quoted(path)) can no longer be used (\(problem)); keeping the key read before")
        }
        if changed { log(.info, "\(setting) \(TextRules.quoted(path)) changed: new lookups use the new key") }
        return changed
    }

    /// Device, inode, size and modification time of what the path names
    /// now (through symlinks); [] when it cannot be seen.
    private static func identity(_ path: String) -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        return [Int(info.st_dev), Int(info.st_ino), Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
    }
}
