import Foundation
import Synchronization
import WireJSON

/// Bearer tokens per project from `LEADSYNC_TOKENS_FILE` (SPEC §6). Never logged, printed
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

    static func load(_ path: String) throws -> [String: String] {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw LoadError(description: "LEADSYNC_TOKENS_FILE \(path) cannot be read: no such file or no access")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        if mode & 0o077 != 0 {
            throw LoadError(
                description:
                    "LEADSYNC_TOKENS_FILE \(path) is readable by group or others (mode \(String(mode, radix: 8))): chmod 600 it"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "LEADSYNC_TOKENS_FILE \(path) cannot be read")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(Array(data))
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
}
