import Foundation
import LeadSyncStore
import PostgresNIO

/// `leadsync worker` as a real process against a test database and a simulator.
public enum WorkerProcess {
    /// The login role worker tests run as: a member of leadsync_worker and nothing else, so
    /// every worker test proves the role's grants suffice (README, Security).
    public static let loginRole = "leadsync_test_worker"

    /// Writes a tokens file (mode 600) and starts the worker, as `loginRole` unless
    /// `asWorkerRole` is false. Short timeouts by default so failure paths finish in seconds.
    /// `session` becomes `LEADSYNC_SESSION_DATABASE_URL` (`database` then names a pooler).
    public static func start(
        database: DatabaseURL, session: DatabaseURL? = nil, baseURL: String, tokens: [String: String],
        arguments: [String] = [], environment: [String: String] = [:], requestTimeout: Double = 2, lease: Double = 3,
        asWorkerRole: Bool = true
    ) async throws -> ManagedProcess {
        let tokensFile = try writeTokens(tokens)
        let database = asWorkerRole ? try await workerRoleURL(database) : database
        var environment = environment
        if let session {
            environment[DatabaseSetup.sessionVariable] =
                (asWorkerRole ? try await workerRoleURL(session) : session)
                .urlString
        }
        return try ManagedProcess(
            ProductBinary.path("leadsync"),
            arguments: [
                "worker", "--request-timeout", "\(requestTimeout)", "--lease", "\(lease)", "--sweep-interval", "0.2",
            ] + arguments,
            environment: [
                "DATABASE_URL": database.urlString, "USERVOX_BASE_URL": baseURL, "LEADSYNC_TOKENS_FILE": tokensFile,
                "LOG_LEVEL": "info",
            ].merging(environment) { _, given in given })
    }

    /// `database` as the test login role, a member of `leadsync_worker` (README, Security).
    public static func workerRoleURL(_ database: DatabaseURL) async throws -> DatabaseURL {
        try await ensureLoginRole(on: database)
        var database = database
        database.username = loginRole
        database.password = nil
        return database
    }

    /// Roles are cluster-wide and other test processes make this one too: made when missing,
    /// a concurrent maker wins quietly. The test servers trust local connections.
    static func ensureLoginRole(on database: DatabaseURL) async throws {
        try await database.withConnection(logger: TestDatabase.logger) { c in
            try await c.query(
                PostgresQuery(
                    unsafeSQL: """
                        DO $$
                        BEGIN
                            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '\(loginRole)') THEN
                                BEGIN
                                    CREATE ROLE \(loginRole) LOGIN IN ROLE \(DatabaseRoles.standard.worker);
                                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                                    NULL;
                                END;
                            END IF;
                        END
                        $$
                        """), logger: TestDatabase.logger)
        }
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
        if tlsMode != .prefer { query.append("sslmode=\(tlsMode.rawValue)") }
        if let sslRootCert { query.append("sslrootcert=\(sslRootCert)") }
        if let sslCert { query.append("sslcert=\(sslCert)") }
        if let sslKey { query.append("sslkey=\(sslKey)") }
        if let socket = unixSocketDirectory { query.append("host=\(socket)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }
}
