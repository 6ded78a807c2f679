import Foundation
import LeadSyncStore

/// `leadsync worker` as a real process against a test database and a simulator.
public enum WorkerProcess {
    /// Writes a tokens file (mode 600) and starts the worker. Short timeouts by default so
    /// failure paths finish in seconds.
    public static func start(
        database: DatabaseURL, baseURL: String, tokens: [String: String], arguments: [String] = [],
        requestTimeout: Double = 2, lease: Double = 3
    ) throws -> ManagedProcess {
        let tokensFile = try writeTokens(tokens)
        return try ManagedProcess(
            ProductBinary.path("leadsync"),
            arguments: [
                "worker", "--request-timeout", "\(requestTimeout)", "--lease", "\(lease)", "--sweep-interval", "0.2",
            ] + arguments,
            environment: [
                "DATABASE_URL": database.urlString, "USERVOX_BASE_URL": baseURL, "LEADSYNC_TOKENS_FILE": tokensFile,
                "LOG_LEVEL": "info",
            ])
    }

    public static func writeTokens(_ tokens: [String: String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString).json")
            .path
        let body = "{" + tokens.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(body.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }
}

extension DatabaseURL {
    /// The URL as a string again (tests hand it to child processes).
    public var urlString: String {
        let auth = password.map { "\(username):\($0)" } ?? username
        var text = "postgres://\(auth)@\(host):\(port)/\(database)"
        var query: [String] = []
        if tlsMode == .disable { query.append("sslmode=disable") }
        if let socket = unixSocketDirectory { query.append("host=\(socket)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }
}
