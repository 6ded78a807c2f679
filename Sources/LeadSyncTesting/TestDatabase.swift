import Foundation
import LeadSyncStore
import Logging
import PostgresNIO

/// A migrated database of its own for one test, cloned from a template that is migrated
/// once per server and migration set (Graphile Worker's trick: `CREATE DATABASE … TEMPLATE`
/// costs milliseconds, migrating costs far more).
public struct TestDatabase: Sendable {
    public let url: DatabaseURL
    public let logger: Logger

    /// An existing database (e.g. on a `PrivateServer`).
    public init(url: DatabaseURL, logger: Logger) {
        self.url = url
        self.logger = logger
    }

    /// The server the tests use: `DATABASE_URL`, as `scripts/test.sh` sets it.
    public static func serverURL() throws -> DatabaseURL {
        guard ProcessInfo.processInfo.environment["DATABASE_URL"] != nil else {
            throw StoreError(.badURL, "DATABASE_URL is not set: run the tests with scripts/test.sh")
        }
        return try DatabaseURL.fromEnvironment()
    }

    public static let logger: Logger = {
        var logger = Logger(label: "leadsync.test") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with a new migrated database, dropped afterwards.
    public static func with<T: Sendable>(
        migrated: Bool = true, _ body: (TestDatabase) async throws -> T
    ) async throws -> T {
        let server = try serverURL()
        let name = "lt_\(UInt32.random(in: 0...UInt32.max))_\(UInt32.random(in: 0...UInt32.max))"
        let template = migrated ? try await TemplateDatabase.shared.name(server: server) : "template0"
        try await server.withConnection(logger: logger) { admin in
            try await admin.query(
                PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"), logger: logger)
        }
        let database = TestDatabase(url: server.with(database: name), logger: logger)
        do {
            let result = try await body(database)
            try await drop(name, server: server)
            return result
        } catch {
            try? await drop(name, server: server)
            throw error
        }
    }

    private static func drop(_ name: String, server: DatabaseURL) async throws {
        try await server.withConnection(logger: logger) { admin in
            try await admin.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    /// Runs `body` with a connection pool to this test's database, the pool running in a
    /// child task for as long as `body` does (as the worker runs its `PostgresClient`).
    public func withClient<T: Sendable>(
        maximumConnections: Int = 2, _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: try url.clientConfiguration(maximumConnections: maximumConnections))
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A dedicated connection to this test's database.
    public func connect() async throws -> PostgresConnection {
        try await url.connect(logger: logger)
    }

    /// Runs `body` on a fresh connection to this test's database.
    @discardableResult
    /// Server errors come out readable (PSQLError hides its message by design).
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await url.withConnection(logger: logger, body)
        } catch let error as PSQLError {
            throw StoreError.from(error, doing: "test query")
        }
    }
}

/// Creates the migrated template once; concurrent test processes wait on an advisory lock.
actor TemplateDatabase {
    static let shared = TemplateDatabase()
    private var ready: String?

    func name(server: DatabaseURL) async throws -> String {
        if let ready { return ready }
        // The name carries the migrations' checksums, so a changed migration gets a new template.
        let digest = Migration.embedded.map(\.checksum).joined().hashValueStable
        let name = "leadsync_template_\(digest)"
        let logger = TestDatabase.logger
        try await server.withConnection(logger: logger) { admin in
            try await admin.query("SELECT pg_advisory_lock(\(Int64(0x1EAD_5A1C_7E57)))", logger: logger)
            let exists =
                try await admin.query(
                    "SELECT count(*) FROM pg_database WHERE datname = \(name)", logger: logger
                ).collect().first?.decode(Int.self) ?? 0
            if exists == 0 {
                try await admin.query(
                    PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name)_wip WITH (FORCE)"), logger: logger)
                try await admin.query(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)_wip TEMPLATE template0"), logger: logger)
                try await server.with(database: "\(name)_wip").withConnection(logger: logger) { connection in
                    try await Migrator(logger: logger).migrate(on: connection)
                }
                // Renamed only when complete, so a crash never leaves a half-migrated template.
                try await admin.query(
                    PostgresQuery(unsafeSQL: "ALTER DATABASE \(name)_wip RENAME TO \(name)"), logger: logger)
            }
            try await admin.query("SELECT pg_advisory_unlock(\(Int64(0x1EAD_5A1C_7E57)))", logger: logger)
        }
        ready = name
        return name
    }
}

extension String {
    /// FNV-1a: stable across processes, unlike `hashValue`.
    var hashValueStable: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
