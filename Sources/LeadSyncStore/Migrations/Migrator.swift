import Logging
import PostgresNIO

/// Applies `migrations/` in order, each in its own transaction, recorded with a checksum
/// in `leadsync.schema_migrations`. A session advisory lock makes concurrent runs wait
/// for each other instead of racing.
public struct Migrator: Sendable {
    public struct Status: Sendable, Equatable {
        public var applied: [AppliedMigration]
        public var pending: [String]
    }

    public struct AppliedMigration: Sendable, Equatable {
        public var version: Int
        public var fileName: String
        public var checksum: String
        public var appliedAt: String
    }

    /// The lock key: any constant shared by every LeadSync migrator.
    static let lockKey: Int64 = 0x1EAD_5A1C_0000_0001

    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration] = Migration.embedded, logger: Logger) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Applies what is pending, then makes the docs/contract.md §1 roles and grants their privileges
    /// (`roles`; nil = `--no-roles`); returns the file names it applied.
    @discardableResult
    public func migrate(on connection: PostgresConnection, roles: DatabaseRoles? = .standard) async throws -> [String] {
        try roles?.validate()
        return try await withLock(on: connection) {
            try await ensureTable(on: connection)
            let applied = try await appliedMigrations(on: connection)
            try verify(applied)
            let done = Set(applied.map(\.version))
            var ran: [String] = []
            for migration in migrations where !done.contains(migration.version) {
                try await apply(migration, on: connection)
                ran.append(migration.fileName)
                logger.info("applied migration", metadata: ["migration": "\(migration.fileName)"])
            }
            try await roles?.apply(on: connection, logger: logger)
            return ran
        }
    }

    /// What is applied and what is pending, without changing anything.
    public func status(on connection: PostgresConnection) async throws -> Status {
        let exists =
            try await connection.query(
                "SELECT to_regclass('leadsync.schema_migrations') IS NOT NULL", logger: logger
            ).collect().first?.decode(Bool.self) ?? false
        let applied = exists ? try await appliedMigrations(on: connection) : []
        try verify(applied)
        let done = Set(applied.map(\.version))
        return Status(applied: applied, pending: migrations.filter { !done.contains($0.version) }.map(\.fileName))
    }

    private func withLock<T: Sendable>(on connection: PostgresConnection, _ body: () async throws -> T) async throws
        -> T
    {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let result = try await body()
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return result
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    private func ensureTable(on connection: PostgresConnection) async throws {
        for sql in MigrationQueries.createTable {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    private func appliedMigrations(on connection: PostgresConnection) async throws -> [AppliedMigration] {
        let rows = try await connection.query(MigrationQueries.selectApplied, logger: logger)
        var result: [AppliedMigration] = []
        for try await (version, name, checksum, at) in rows.decode((Int, String, String, String).self) {
            result.append(AppliedMigration(version: version, fileName: name, checksum: checksum, appliedAt: at))
        }
        return result
    }

    /// An applied file that changed since means the database and the code disagree about
    /// the schema: refuse rather than guess.
    private func verify(_ applied: [AppliedMigration]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for row in applied {
            guard let migration = known[row.version] else {
                throw StoreError(
                    .schemaAhead,
                    "the database has migration \(row.fileName), which this leadsync does not know: upgrade leadsync")
            }
            if migration.checksum != row.checksum {
                throw StoreError(
                    .migrationChanged,
                    "migration \(migration.fileName) was changed after it was applied (checksum \(row.checksum.prefix(12)) in the database, \(migration.checksum.prefix(12)) now): restore the file and add a new migration instead"
                )
            }
        }
    }

    private func apply(_ migration: Migration, on connection: PostgresConnection) async throws {
        do {
            try await connection.withTransaction(logger: logger) { tx in
                for statement in SQLScript.statements(in: migration.sql) {
                    try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await tx.query(
                    MigrationQueries.insertApplied(
                        version: migration.version, fileName: migration.fileName, checksum: migration.checksum),
                    logger: logger)
            }
        } catch {
            let inner = StoreError.from(error, doing: "migration \(migration.fileName) failed")
            throw StoreError(.query, inner.message)
        }
    }
}

/// The migrator's own SQL: the bookkeeping table exists before any migration does.
enum MigrationQueries {
    static let createTable = [
        "CREATE SCHEMA IF NOT EXISTS leadsync",
        """
        CREATE TABLE IF NOT EXISTS leadsync.schema_migrations (
            version    integer PRIMARY KEY,
            file_name  text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """,
    ]

    static let selectApplied: PostgresQuery = """
        SELECT version, file_name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"')
        FROM leadsync.schema_migrations ORDER BY version
        """

    static func insertApplied(version: Int, fileName: String, checksum: String) -> PostgresQuery {
        "INSERT INTO leadsync.schema_migrations (version, file_name, checksum) VALUES (\(version), \(fileName), \(checksum))"
    }
}
