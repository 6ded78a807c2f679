import Foundation
import Synchronization
import WireJSON

/// Bearer tokens per project from `LEADSYNC_TOKENS_FILE` (docs/contract.md §6). Never logged, printed
/// or stored: errors name the file and the project, never the token.
public final class TokenStore: Sendable {
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    private let tokens: Mutex<[String: String]>
    public let path: String?

    public init(path: String?) throws {
        self.path = path
        self.tokens = Mutex(try path.map(Self.load) ?? [:])
    }

    /// For tests: tokens given directly.
    public init(tokens: [String: String]) {
        self.path = nil
        self.tokens = Mutex(tokens)
    }

    public func token(for project: String) -> String? {
        tokens.withLock { $0[project] }
    }

    public var projects: [String] { tokens.withLock { Array($0.keys).sorted() } }

    /// Rereads the file (SIGHUP). On failure the previous tokens stay in force.
    @discardableResult
    public func reload() throws -> [String] {
        guard let path else { return projects }
        let fresh = try Self.load(path)
        tokens.withLock { $0 = fresh }
        return Array(fresh.keys).sorted()
    }

    /// The largest tokens file read: a JSON object of tokens is a few KiB, and the file is
    /// read whole into memory.
    public static let maximumFileSize = 1 << 20

    static func load(_ path: String) throws -> [String: String] {
        let data = try readSecretFile(path)
        let json: JSONValue
        do {
            json = try JSONParser.parse(data)
        } catch {
            throw LoadError(description: "LEADSYNC_TOKENS_FILE \(path) is not valid JSON (\(error))")
        }
        guard let members = json.objectValue else {
            throw LoadError(
                description: "LEADSYNC_TOKENS_FILE \(path) must be a JSON object {\"<projectId>\": \"<token>\"}")
        }
        var result: [String: String] = [:]
        for (project, value) in members {
            guard let token = value.stringValue, !token.isEmpty else {
                throw LoadError(
                    description:
                        "LEADSYNC_TOKENS_FILE \(path): the token of project \(project) is not a non-empty string")
            }
            result[project] = token
        }
        return result
    }

    /// Opens the path once (following symlinks: a Kubernetes secret is a link into
    /// `..data/`), judges the file it opened with `fstat`, and reads from that descriptor,
    /// so what is checked is what is read. Refusals name the file and the rule.
    /// Also reads `LEADSYNC_CONSOLE_TOKEN_FILE` (`variable` names the file in refusals).
    package static func readSecretFile(_ path: String, variable: String = "LEADSYNC_TOKENS_FILE") throws -> [UInt8] {
        func refuse(_ rule: String) -> LoadError {
            LoadError(description: "\(variable) \(path) \(rule)")
        }
        // O_NONBLOCK: opening a FIFO must not hang the worker; a regular file ignores it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            let why = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw refuse("cannot be opened: \(why)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw refuse("cannot be examined: \(String(cString: strerror(errno)))") }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else { throw refuse("is not a regular file") }
        let owner = info.st_uid
        guard owner == geteuid() || owner == 0 else {
            throw refuse("is owned by uid \(owner), neither this user (uid \(geteuid())) nor root: chown it")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            throw refuse("has group or world permissions (mode \(String(mode, radix: 8))): chmod 600 it")
        }
        guard Int(info.st_size) <= maximumFileSize else {
            throw refuse("is larger than 1 MiB (\(info.st_size) bytes)")
        }
        // Read to the end, not st_size bytes: the file may change between fstat and read.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw refuse("cannot be read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            guard bytes.count <= maximumFileSize else { throw refuse("is larger than 1 MiB") }
        }
        return bytes
    }
}
