import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing

/// `leadsync prune --leads` (docs/contract.md §7.3) on the seed: only finished leads last
/// changed before the cutoff go, with everything that names them; counts stay right.
@Suite struct PruneLeadsCommandTests {
    /// Lead 5 says `submitted` (an operator's hand, say) while open attempt 3 still carries it.
    static let finishedButInFlight = """
        UPDATE leadsync.leads SET status = 'submitted', updated_at = '2024-03-01 00:00:00+00' WHERE id = 5
        """

    @Test func deletesOnlyOldFinishedLeadsAndWhatNamesThem() async throws {
        try await Seed.with { db in
            _ = try await db.value(Int.self, PostgresQuery(unsafeSQL: Self.finishedButInFlight))
            // An hour back (11:00): 1, 2, 3 and 9 are finished before it; 4 finished at 11:00
            // exactly; 8, 12 and 13 are held and 14 pending since long before; 5 is in flight.
            let dry = try await leadsync(
                "prune", "--leads", "--older-than", "1h", "--dry-run", "--now", Seed.now, db: db)
            #expect(dry.status == 0, "\(dry)")
            #expect(
                dry.stdout
                    == "would delete 4 leads (submitted, invalid, cancelled) last changed before 2024-05-01T11:00:00Z "
                    + "(dry run: nothing deleted)\n  acme: cancelled 1, invalid 1, submitted 2\n")
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads") == 14)
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.attempt_leads") == 7)

            let submitted = try await leadsync(
                "prune", "--leads", "--older-than", "1h", "--states", "submitted", "--now", Seed.now, db: db)
            #expect(submitted.status == 0, "\(submitted)")
            #expect(
                submitted.stdout
                    == "deleted 2 leads (submitted) last changed before 2024-05-01T11:00:00Z in 1 transaction, "
                    + "with 2 attempt_leads rows, 0 invalid markers and 2 phone claims\n  acme: submitted 2\n")
            #expect(
                try await db.lines("SELECT l.id::text FROM leadsync.leads l ORDER BY l.id")
                    == ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14"])

            let rest = try await leadsync("prune", "--leads", "--older-than", "1h", "--now", Seed.now, db: db)
            #expect(rest.status == 0, "\(rest)")
            #expect(
                rest.stdout
                    == "deleted 2 leads (submitted, invalid, cancelled) last changed before 2024-05-01T11:00:00Z "
                    + "in 1 transaction, with 1 attempt_leads row, 1 invalid marker and 1 phone claim\n"
                    + "  acme: cancelled 1, invalid 1\n")
            #expect(
                try await db.lines("SELECT l.id::text FROM leadsync.leads l ORDER BY l.id")
                    == ["4", "5", "6", "7", "8", "10", "11", "12", "13", "14"])
            // The history, markers and claims of the pruned leads are gone; the others' stay.
            #expect(
                try await db.lines("SELECT attempt_id || '/' || lead_id FROM leadsync.attempt_leads ORDER BY 1")
                    == ["2/7", "4/12", "4/13", "6/7"])
            #expect(try await db.lines("SELECT lead_id::text FROM leadsync.invalid_leads") == ["4"])
            #expect(
                try await db.lines("SELECT c.lead_id::text FROM leadsync.phone_claims c ORDER BY c.lead_id")
                    == ["5", "7", "8", "12", "13"])
            // The requests stay (report, attempts).
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.submission_attempts") == 6)
            #expect(try await Self.countsDisagreeing(db) == [])

            // A day back: nothing more is old enough; in-flight lead 5 is still not taken.
            let again = try await leadsync("prune", "--leads", "--older-than", "1h", "--now", Seed.now, db: db)
            #expect(again.stdout.hasPrefix("deleted 0 leads"), "\(again)")
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads") == 10)
        }
    }

    /// A submitted lead's phone, once pruned, is free: a new lead with it is claimed, not a duplicate.
    @Test func aPrunedSubmittedLeadsPhoneIsClaimedAgain() async throws {
        try await Seed.with { db in
            try await db.withClient(maximumConnections: 1) { client in
                let store = LeadStore(client: client, logger: db.logger)
                let newId = try #require(
                    try await db.value(
                        Int64.self,
                        "INSERT INTO leadsync.leads (project_id, phone) VALUES ('acme', '+1 (415) 555-0002') RETURNING id"
                    ))
                // Lead 2, submitted, holds the phone: the newcomer is a duplicate.
                #expect(try await store.claimPhones(project: "acme", keys: ["14155550002"], leadIds: [newId]) == [])

                let pruned = try await leadsync(
                    "prune", "--leads", "--older-than", "30d", "--now", Seed.now, db: db)
                #expect(pruned.status == 0, "\(pruned)")
                #expect(pruned.stdout.contains("acme: submitted 1"), "\(pruned)")
                #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE id = 2") == 0)
                #expect(
                    try await db.lines(
                        "SELECT lead_id::text FROM leadsync.phone_claims WHERE phone_key = '14155550002'")
                        == [])
                #expect(
                    try await store.claimPhones(project: "acme", keys: ["14155550002"], leadIds: [newId]) == [newId])
            }
        }
    }

    /// Each bad input gets a usage error (exit 2) that says what is wrong with it.
    @Test(arguments: [
        (["--older-than", "90x"], "'90x' is not a positive duration: a number and a unit, e.g. 90d, 12h, 30m"),
        (["--older-than", "0d"], "'0d' is not a positive duration"),
        ([], "Missing expected argument '--older-than <older-than>'"),
        (["--older-than", "90d", "--states", "held"], "--states: held leads are not finished and are never pruned"),
        (["--older-than", "90d", "--states", "submitted,pending"], "--states: pending leads are not finished"),
        (["--older-than", "90d", "--states", "submited"], "--states: 'submited' is not a lead state"),
        (["--older-than", "90d", "--states", ""], "--states: '' is not a lead state"),
        (["--older-than", "90d", "--batch-size", "0"], "--batch-size must be 1–100000"),
        (["--older-than", "90d", "--pause", "soon"], "The value 'soon' is invalid for '--pause <pause>'"),
    ])
    func badArgumentsExitTwo(_ arguments: [String], _ message: String) async throws {
        let result = try await leadsync(["prune", "--leads"] + arguments, db: nil)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("Error: ") && result.stderr.contains(message), "\(result)")
    }

    /// The options of --leads mean nothing without it.
    @Test func leadsOptionsNeedLeads() async throws {
        let result = try await leadsync("prune", "--older-than", "90d", "--states", "submitted", db: nil)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("Error: --states needs --leads"), "\(result)")
    }

    /// (project, state, kept count, real count) where `lead_counts` and a recount differ.
    static func countsDisagreeing(_ db: TestDatabase) async throws -> [String] {
        try await db.lines(
            """
            SELECT coalesce(k.project_id, r.project_id) || ' ' || coalesce(k.status, r.status) || ' '
                   || coalesce(k.n, 0) || ' ' || coalesce(r.n, 0)
            FROM (SELECT project_id, status, sum(delta) AS n FROM leadsync.lead_counts GROUP BY 1, 2) k
            FULL JOIN (SELECT project_id, status, count(*) AS n FROM leadsync.leads GROUP BY 1, 2) r
                   ON r.project_id = k.project_id AND r.status = k.status
            WHERE coalesce(k.n, 0) <> coalesce(r.n, 0)
            """)
    }

    /// Rows that name a lead no longer there.
    static func orphans(_ db: TestDatabase) async throws -> Int? {
        try await db.value(
            Int.self,
            """
            SELECT (SELECT count(*) FROM leadsync.attempt_leads al
                    WHERE NOT EXISTS (SELECT 1 FROM leadsync.leads l WHERE l.id = al.lead_id))
                 + (SELECT count(*) FROM leadsync.invalid_leads i
                    WHERE NOT EXISTS (SELECT 1 FROM leadsync.leads l WHERE l.id = i.lead_id))
                 + (SELECT count(*) FROM leadsync.phone_claims c
                    WHERE NOT EXISTS (SELECT 1 FROM leadsync.leads l WHERE l.id = c.lead_id))
            """)
    }

    /// 3000 finished leads of 'old' a year back, with history, markers and claims.
    static let oldLeads = """
        WITH made AS (
            INSERT INTO leadsync.leads (project_id, phone, status, updated_at)
            SELECT 'old', '+1415' || lpad(i::text, 7, '0'),
                   (ARRAY['submitted', 'invalid', 'cancelled'])[1 + i % 3], '2023-05-01 00:00:00+00'
            FROM generate_series(1, 3000) AS i
            RETURNING id, status, phone
        ), history AS (
            INSERT INTO leadsync.attempt_leads (attempt_id, lead_id, result) SELECT 5, id, 'accepted' FROM made
        ), markers AS (
            INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source)
            SELECT id, 'old', 'api_rejected', 'no', 'api' FROM made WHERE status = 'invalid'
        )
        INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id)
        SELECT 'old', substr(phone, 2), id FROM made WHERE status = 'submitted'
        """

    /// Each transaction commits on its own: a prune killed midway leaves fewer leads, every
    /// count right and nothing naming a deleted lead; run again, it finishes the job.
    @Test func aKilledPruneLeavesAConsistentStateAndResumes() async throws {
        try await Seed.with { db in
            _ = try await db.value(Int.self, PostgresQuery(unsafeSQL: Self.oldLeads))
            let process = try ManagedProcess(
                ProductBinary.path("leadsync"),
                arguments: [
                    "prune", "--leads", "--older-than", "30d", "--batch-size", "50", "--pause", "20ms", "--now",
                    Seed.now,
                ],
                environment: ["DATABASE_URL": db.url.urlString, "NO_COLOR": "1", "LOG_LEVEL": "warning"])
            try await waitUntil("some leads pruned", timeout: .seconds(60)) {
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE project_id = 'old'")
                    ?? 3000 < 2700
            }
            process.signal(SIGKILL)
            _ = try await process.waitForExit()
            let left = try #require(
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE project_id = 'old'"))
            #expect(left > 0 && left < 2700)
            #expect(try await Self.countsDisagreeing(db) == [])
            #expect(try await Self.orphans(db) == 0)

            let rest = try await leadsync("prune", "--leads", "--older-than", "30d", "--now", Seed.now, db: db)
            #expect(rest.status == 0, "\(rest)")
            #expect(
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE project_id = 'old'") == 0)
            #expect(try await Self.countsDisagreeing(db) == [])
            #expect(try await Self.orphans(db) == 0)
            // Seed lead 2 (submitted in March) went too; the rest of the seed is younger.
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads") == 13)
        }
    }

    /// A prune whose connection is cut midway says, in one line, how far it got.
    @Test func aPruneCutOffSaysHowFarItGot() async throws {
        try await Seed.with { db in
            _ = try await db.value(Int.self, PostgresQuery(unsafeSQL: Self.oldLeads))
            let process = try ManagedProcess(
                ProductBinary.path("leadsync"),
                arguments: [
                    "prune", "--leads", "--older-than", "30d", "--batch-size", "50", "--pause", "20ms", "--now",
                    Seed.now,
                ],
                environment: ["DATABASE_URL": db.url.urlString, "NO_COLOR": "1", "LOG_LEVEL": "warning"])
            try await waitUntil("some leads pruned", timeout: .seconds(60)) {
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE project_id = 'old'")
                    ?? 3000 < 2700
            }
            // The test's database is its own: the other session on it is the prune's.
            _ = try await db.value(
                Bool.self,
                """
                SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                """)
            #expect(try await process.waitForExit() == 1)
            let lines = process.standardError.split(separator: "\n").filter { !$0.hasPrefix("prune: ") }
            #expect(lines.count == 1, "\(process.standardError)")
            #expect(
                lines.first?.hasPrefix("leadsync: prune --leads stopped after deleting ") == true
                    && lines.first?.contains("; run it again to go on: ") == true,
                "\(process.standardError)")
            #expect(try await Self.countsDisagreeing(db) == [])
            #expect(try await Self.orphans(db) == 0)
        }
    }
}
