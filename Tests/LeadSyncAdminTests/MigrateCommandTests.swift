import LeadSyncTesting
import Testing

/// `leadsync migrate` with and without roles (docs/contract.md §1, README Security).
@Suite struct MigrateCommandTests {
    @Test func migrateMakesTheRolesUnlessToldNotTo() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let bare = try await leadsync("migrate", "--no-roles", db: db)
            #expect(bare.status == 0, "\(bare)")
            #expect(!bare.stdout.contains("roles:"), "\(bare)")
            #expect(
                try await db.value(
                    Bool.self,
                    // The role may not exist yet on a fresh server (roles are cluster-wide).
                    """
                    SELECT coalesce((SELECT has_schema_privilege(oid, 'leadsync', 'USAGE') FROM pg_catalog.pg_roles
                                     WHERE rolname = 'leadsync_reader'), false)
                    """) == false)

            let again = try await leadsync("migrate", db: db)
            #expect(again.status == 0, "\(again)")
            #expect(
                again.stdout == "up to date\nroles: leadsync_writer, leadsync_worker, leadsync_reader, leadsync_admin\n"
            )
            #expect(
                try await db.value(
                    Bool.self, "SELECT has_table_privilege('leadsync_writer', 'leadsync.leads', 'INSERT')")
                    == true)
        }
    }

    @Test func aBadRoleNameIsAUsageError() async throws {
        let result = try await leadsync("migrate", "--writer-role", "Robert'); DROP TABLE x", db: nil)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("role name"), "\(result)")
    }
}
