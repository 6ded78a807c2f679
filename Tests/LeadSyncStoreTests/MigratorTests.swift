import LeadSyncTesting
import PostgresNIO
import Testing

@testable import LeadSyncStore

@Suite struct MigratorTests {
    let logger = TestDatabase.logger

    /// Everything the schema consists of, to prove a second run changes nothing.
    func schemaFingerprint(_ connection: PostgresConnection) async throws -> [String] {
        let rows = try await connection.query(
            """
            SELECT c.relkind::text || ' ' || c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'leadsync'
            UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'leadsync'::regnamespace
            UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
            UNION ALL SELECT 'migration ' || version || ' ' || applied_at FROM leadsync.schema_migrations
            ORDER BY 1
            """, logger: logger)
        var result: [String] = []
        for try await line in rows.decode(String.self) { result.append(line) }
        return result
    }

    @Test func appliesToAnEmptyDatabaseThenChangesNothing() async throws {
        try await TestDatabase.with(migrated: false) { db in
            try await db.withConnection { connection in
                let migrator = Migrator(logger: logger)
                let first = try await migrator.migrate(on: connection)
                #expect(first == Migration.embedded.map(\.fileName))
                let before = try await schemaFingerprint(connection)
                #expect(before.contains("r leads"))
                #expect(before.contains("i leads_project_id"))
                #expect(before.contains("r arrivals"))
                #expect(before.contains("r lead_counts"))

                let second = try await migrator.migrate(on: connection)
                #expect(second.isEmpty)
                #expect(try await schemaFingerprint(connection) == before)

                let status = try await migrator.status(on: connection)
                #expect(status.pending.isEmpty)
                #expect(status.applied.map(\.fileName) == first)
            }
        }
    }

    @Test func statusOnAnEmptyDatabaseListsEverythingPending() async throws {
        try await TestDatabase.with(migrated: false) { db in
            try await db.withConnection { connection in
                let status = try await Migrator(logger: logger).status(on: connection)
                #expect(status.applied.isEmpty)
                #expect(status.pending == Migration.embedded.map(\.fileName))
            }
        }
    }

    @Test func refusesAMigrationThatChangedAfterItWasApplied() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { connection in
                var changed = Migration.embedded
                changed[0] = Migration(fileName: changed[0].fileName, sql: changed[0].sql + "\n-- edited")
                let error = await #expect(throws: StoreError.self) {
                    try await Migrator(migrations: changed, logger: logger).migrate(on: connection)
                }
                #expect(error?.code == .migrationChanged)
                #expect(error?.description.contains(changed[0].fileName) == true)
            }
        }
    }

    @Test func refusesADatabaseAheadOfThisBuild() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { connection in
                let error = await #expect(throws: StoreError.self) {
                    try await Migrator(migrations: [], logger: logger).status(on: connection)
                }
                #expect(error?.code == .schemaAhead)
            }
        }
    }

    @Test func twoMigratorsAtOnceApplyEachFileOnce() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await db.withConnection { try await Migrator(logger: logger).migrate(on: $0) }
                    }
                }
                var all: [String] = []
                for try await names in group { all += names }
                return all
            }
            #expect(applied.sorted() == Migration.embedded.map(\.fileName).sorted())
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { connection in
                let broken =
                    Migration.embedded + [
                        Migration(
                            fileName: "9999_broken.sql", sql: "CREATE TABLE leadsync.half (a int);\nSELECT nonsense;")
                    ]
                let error = await #expect(throws: StoreError.self) {
                    try await Migrator(migrations: broken, logger: logger).migrate(on: connection)
                }
                #expect(error?.description.contains("9999_broken.sql") == true)
                let half = try await connection.query(
                    "SELECT to_regclass('leadsync.half') IS NULL", logger: logger
                ).collect().first?.decode(Bool.self)
                #expect(half == true)
                let status = try await Migrator(migrations: broken, logger: logger).status(on: connection)
                #expect(status.pending == ["9999_broken.sql"])
            }
        }
    }
}
