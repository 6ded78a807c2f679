import LeadSyncTesting
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// docs/contract.md §1 roles on a real server: each may do its job and nothing more; a writer cannot
/// forge state. Roles are cluster-wide and other tests make them too: nothing here
/// assumes it made them.
@Suite struct RolesTests {
    let logger = TestDatabase.logger

    /// `body` on a connection acting as `role` (SET ROLE: only the role's own privileges count).
    func asRole<T: Sendable>(
        _ role: String, _ db: TestDatabase, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await db.url.withConnection(logger: logger) { c in
            try await c.query(PostgresQuery(unsafeSQL: "SET ROLE \(role)"), logger: logger)
            return try await body(c)
        }
    }

    /// The statement fails with `sqlState`, its message containing `text`.
    func expectRefused(
        _ sql: String, on c: PostgresConnection, sqlState: String, _ text: String, constraint: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let error = await #expect(throws: PSQLError.self, sourceLocation: sourceLocation) {
            try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
        #expect(error?.sqlState == sqlState, "\(String(reflecting: error))", sourceLocation: sourceLocation)
        let message = error?.serverInfo?[.message] ?? ""
        #expect(message.contains(text), "\(message)", sourceLocation: sourceLocation)
        if let constraint { #expect(error?.constraintName == constraint, sourceLocation: sourceLocation) }
    }

    @Test func migrateMakesFourNoLoginRolesAndIsIdempotent() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { c in
                // The template was migrated with roles; again, twice, changes nothing and fails nothing.
                try await Migrator(logger: logger).migrate(on: c)
                try await Migrator(logger: logger).migrate(on: c)
                let rows = try await c.query(
                    """
                    SELECT rolname, rolcanlogin FROM pg_roles
                    WHERE rolname IN ('leadsync_writer', 'leadsync_worker', 'leadsync_reader', 'leadsync_admin')
                    ORDER BY rolname
                    """, logger: logger)
                var roles: [String: Bool] = [:]
                for try await (name, login) in rows.decode((String, Bool).self) { roles[name] = login }
                #expect(
                    roles == [
                        "leadsync_admin": false, "leadsync_reader": false, "leadsync_worker": false,
                        "leadsync_writer": false,
                    ])
            }
        }
    }

    @Test func noRolesGrantsNothing() async throws {
        try await TestDatabase.with(migrated: false) { db in
            try await db.withConnection { c in
                try await Migrator(logger: logger).migrate(on: c, roles: nil)
                // The roles may exist (other databases of this server made them), but here they may do nothing.
                let granted = try await c.query(
                    """
                    SELECT count(*)::int8 FROM pg_roles r
                    WHERE r.rolname LIKE 'leadsync\\_%' AND has_schema_privilege(r.oid, 'leadsync', 'USAGE')
                      AND NOT r.rolsuper
                    """, logger: logger
                ).collect().first?.decode(Int64.self)
                #expect(granted == 0)
            }
        }
    }

    @Test func roleNamesCanBeChosen() async throws {
        let suffix = UInt32.random(in: 0...UInt32.max)
        let roles = DatabaseRoles(
            writer: "lt_w_\(suffix)", worker: "lt_k_\(suffix)", reader: "lt_r_\(suffix)", admin: "lt_a_\(suffix)")
        let privileges = try await TestDatabase.with { db in
            try await db.withConnection { c in
                try await Migrator(logger: logger).migrate(on: c, roles: roles)
                return try await c.query(
                    """
                    SELECT has_table_privilege(\(roles.writer), 'leadsync.leads', 'INSERT'),
                           has_table_privilege(\(roles.writer), 'leadsync.leads', 'UPDATE'),
                           has_table_privilege(\(roles.worker), 'leadsync.leads', 'UPDATE'),
                           has_table_privilege(\(roles.reader), 'leadsync.projects', 'SELECT'),
                           has_table_privilege(\(roles.admin), 'leadsync.attempt_leads', 'DELETE')
                    """, logger: logger
                ).collect().first?.decode((Bool, Bool, Bool, Bool, Bool).self)
            }
        }
        // Their grants went with the test database; the roles themselves are the cluster's.
        try await TestDatabase.serverURL().withConnection(logger: logger) { c in
            for name in roles.all {
                try await c.query(PostgresQuery(unsafeSQL: "DROP ROLE IF EXISTS \(name)"), logger: logger)
            }
        }
        #expect(privileges.map { [$0.0, $0.1, $0.2, $0.3, $0.4] } == [true, false, true, true, true])
    }

    @Test func badRoleNamesAreRefusedBeforeAnythingRuns() async throws {
        let error = #expect(throws: StoreError.self) {
            try DatabaseRoles(writer: "x; DROP TABLE y").validate()
        }
        #expect(error?.code == .badArgument)
        #expect(throws: StoreError.self) { try DatabaseRoles(worker: "leadsync_writer").validate() }
    }

    @Test func aWriterInsertsPendingLeadsAndTheTriggersStillWork() async throws {
        try await TestDatabase.with { db in
            let received = try await SchemaTests().pendingNotifications(db) { writer in
                try await writer.query("SET ROLE leadsync_writer", logger: logger)
                let id = try await writer.query(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('w1', '+15551234567') RETURNING id",
                    logger: logger
                ).collect().first?.decode(Int64.self)
                #expect(id != nil)
                // Its own row, read back by id.
                let status = try await writer.query(
                    "SELECT status FROM leadsync.leads WHERE id = \(id ?? 0)", logger: logger
                ).collect().first?.decode(String.self)
                #expect(status == "pending")
            }
            #expect(received == ["w1"])
            try await db.withConnection { c in
                let projects = try await c.query(
                    "SELECT count(*)::int8 FROM leadsync.projects WHERE project_id = 'w1'", logger: logger
                ).collect().first?.decode(Int64.self)
                #expect(projects == 1)
                let counted = try await c.query(
                    "SELECT sum(delta)::int8 FROM leadsync.lead_counts WHERE project_id = 'w1' AND status = 'pending'",
                    logger: logger
                ).collect().first?.decode(Int64.self)
                #expect(counted == 1)
            }
        }
    }

    @Test func aWriterCannotForgeState() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { c in
                try await c.query(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', '+15551234567')", logger: logger)
            }
            try await asRole("leadsync_writer", db) { c in
                await expectRefused(
                    "UPDATE leadsync.leads SET status = 'submitted'", on: c, sqlState: "42501",
                    "permission denied for table leads")
                await expectRefused(
                    "INSERT INTO leadsync.leads (project_id, phone, status) VALUES ('p1', '+15551234568', 'submitted')",
                    on: c, sqlState: "23514", "only creates a pending lead: status maintained by LeadSync",
                    constraint: "leads_insert_creates_pending")
                await expectRefused(
                    """
                    INSERT INTO leadsync.leads (project_id, phone, attempt_count, held_reason, ambiguous, resubmit_of)
                    VALUES ('p1', '+15551234568', 3, 'bad_request', true, 1)
                    """, on: c, sqlState: "23514", "attempt_count, held_reason, ambiguous, resubmit_of",
                    constraint: "leads_insert_creates_pending")
                await expectRefused(
                    "INSERT INTO leadsync.leads (project_id, phone, status) VALUES ('p1', '+15551234568', 'cancelled')",
                    on: c, sqlState: "23514", "status", constraint: "leads_insert_creates_pending")
                await expectRefused(
                    "INSERT INTO leadsync.leads (project_id, phone, created_at) VALUES ('p1', '+15551234568', '2001-01-01')",
                    on: c, sqlState: "23514", "created_at", constraint: "leads_insert_creates_pending")
                await expectRefused(
                    """
                    INSERT INTO leadsync.leads (id, project_id, phone) OVERRIDING SYSTEM VALUE
                    VALUES (1000000, 'p1', '+15551234568')
                    """, on: c, sqlState: "23514", ": id maintained by LeadSync",
                    constraint: "leads_insert_creates_pending")
                await expectRefused(
                    "UPDATE leadsync.projects SET rate_limit_requests = 1", on: c, sqlState: "42501",
                    "permission denied for table projects")
                await expectRefused(
                    """
                    INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source)
                    VALUES (1, 'p1', 'api_rejected', 'forged', 'api')
                    """, on: c, sqlState: "42501", "permission denied for table invalid_leads")
                await expectRefused(
                    "DELETE FROM leadsync.leads", on: c, sqlState: "42501", "permission denied for table leads")
                await expectRefused(
                    "SELECT leadsync.compact_lead_counts()", on: c, sqlState: "42501",
                    "permission denied for function compact_lead_counts")
                await expectRefused(
                    "CREATE TABLE leadsync.mine (a int)", on: c, sqlState: "42501",
                    "permission denied for schema leadsync")
            }
            // Nothing the writer tried changed anything.
            try await db.withConnection { c in
                let rows = try await c.query(
                    "SELECT count(*)::int8, min(status) FROM leadsync.leads", logger: logger
                ).collect().first?.decode((Int64, String).self)
                #expect(rows?.0 == 1 && rows?.1 == "pending")
            }
        }
    }

    @Test func everyWriterTextColumnHasAByteBound() async throws {
        let bounds: [(column: String, bytes: Int)] = [
            ("project_id", 200), ("process_id", 200), ("group_id", 200), ("phone", 64), ("email", 320),
            ("name", 400), ("first_name", 200), ("last_name", 200), ("reference_id", 200), ("remote_lead_id", 200),
        ]
        try await TestDatabase.with { db in
            try await asRole("leadsync_writer", db) { c in
                for (column, bytes) in bounds {
                    let base = column == "phone" ? "" : ", phone"
                    let baseValue = column == "phone" ? "" : ", '+15551234567'"
                    let projectColumn = column == "project_id" ? "" : "project_id, "
                    let projectValue = column == "project_id" ? "" : "'p1', "
                    // At the bound it goes in; one two-byte character more, counted in bytes, does not.
                    let fits = String(repeating: "a", count: bytes)
                    let over = String(repeating: "é", count: bytes / 2) + "a"
                    try await c.query(
                        PostgresQuery(
                            unsafeSQL:
                                "INSERT INTO leadsync.leads (\(projectColumn)\(column)\(base)) VALUES (\(projectValue)'\(fits)'\(baseValue))"
                        ), logger: logger)
                    await expectRefused(
                        "INSERT INTO leadsync.leads (\(projectColumn)\(column)\(base)) VALUES (\(projectValue)'\(over)'\(baseValue))",
                        on: c, sqlState: "23514", "leads_\(column)_bytes", constraint: "leads_\(column)_bytes")
                }
            }
        }
    }

    @Test func theWorkerRoleWorksTheQueueButChangesNoSchemaAndDeletesNothing() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { c in
                try await c.query(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', '+15551234567')", logger: logger)
            }
            try await asRole("leadsync_worker", db) { c in
                try await c.query(
                    "UPDATE leadsync.leads SET status = 'held', held_reason = 'token_missing'", logger: logger)
                try await c.query("UPDATE leadsync.projects SET max_batch_size = 500", logger: logger)
                try await c.query("SELECT leadsync.compact_lead_counts()", logger: logger)
                try await c.query("SELECT count(*) FROM leadsync.schema_migrations", logger: logger)
                await expectRefused(
                    "DELETE FROM leadsync.leads", on: c, sqlState: "42501", "permission denied for table leads")
                await expectRefused(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', '+15551234568')", on: c,
                    sqlState: "42501", "permission denied for table leads")
                await expectRefused(
                    "ALTER TABLE leadsync.leads DROP CONSTRAINT leads_phone_bytes", on: c, sqlState: "42501",
                    "must be owner")
                await expectRefused(
                    "CREATE TABLE leadsync.mine (a int)", on: c, sqlState: "42501",
                    "permission denied for schema leadsync")
            }
        }
    }

    @Test func theReaderOnlyReads() async throws {
        try await TestDatabase.with { db in
            try await asRole("leadsync_reader", db) { c in
                for table in [
                    "leads", "projects", "submission_attempts", "attempt_leads", "invalid_leads", "lead_counts",
                ] {
                    try await c.query(
                        PostgresQuery(unsafeSQL: "SELECT count(*) FROM leadsync.\(table)"), logger: logger)
                }
                await expectRefused(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', '+15551234568')", on: c,
                    sqlState: "42501", "permission denied for table leads")
                await expectRefused(
                    "UPDATE leadsync.projects SET paused = true", on: c, sqlState: "42501",
                    "permission denied for table projects")
            }
        }
    }

    @Test func theAdminMayInsertAResubmittedCopyButNotTouchTheMigrationsTable() async throws {
        try await TestDatabase.with { db in
            try await asRole("leadsync_admin", db) { c in
                try await c.query(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', '+15551234567')", logger: logger)
                try await c.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone, resubmit_of)
                    SELECT 'p1', '+15551234568', min(id) FROM leadsync.leads
                    """, logger: logger)
                await expectRefused(
                    "DELETE FROM leadsync.schema_migrations", on: c, sqlState: "42501",
                    "permission denied for table schema_migrations")
            }
        }
    }

    @Test func triggerFunctionsRunAsTheirOwnerWithAPinnedSearchPath() async throws {
        try await TestDatabase.with { db in
            let rows = try await db.withConnection { c in
                var result: [String: String] = [:]
                let rows = try await c.query(
                    """
                    SELECT proname, prosecdef::text || ' ' || coalesce(array_to_string(proconfig, ','), '')
                    FROM pg_proc WHERE pronamespace = 'leadsync'::regnamespace
                      AND proname IN ('leads_after_insert', 'leads_after_update', 'leads_after_delete',
                                      'leads_after_truncate', 'compact_lead_counts')
                    """, logger: logger)
                for try await (name, setting) in rows.decode((String, String).self) { result[name] = setting }
                return result
            }
            #expect(rows.count == 5)
            for (name, setting) in rows {
                #expect(setting == "true search_path=pg_catalog, pg_temp", "\(name)")
            }
        }
    }
}
