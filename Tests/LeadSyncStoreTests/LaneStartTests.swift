import LeadSyncTesting
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// What a lane reads at its start (docs/operating.md §21, §22), here how many leads are
/// ready: of the newest, those never tried, and retries come due, read only as far as asked.
@Suite struct LaneStartTests {
    let logger = TestDatabase.logger

    @Test func theStartCountsReadyLeadsUpToTheBoundAsked() async throws {
        try await withLeads("('few', 3), ('many', 150), ('retry', 3), ('history', 300)") { store, client in
            // Of `retry`'s leads, one is due for a retry, one waits for its back-off, one is done.
            try await client.query(
                """
                UPDATE leadsync.leads SET next_attempt_at = now() + CASE phone
                    WHEN '+14150000001' THEN interval '-1 second' ELSE interval '1 hour' END
                WHERE project_id = 'retry' AND phone <> '+14150000003'
                """, logger: logger)
            try await client.query(
                "UPDATE leadsync.leads SET status = 'cancelled' WHERE project_id = 'retry' AND phone = '+14150000003'",
                logger: logger)

            // A quiet project with a long history: every lead finished but its newest.
            try await client.query(
                """
                UPDATE leadsync.leads SET status = 'cancelled'
                WHERE project_id = 'history' AND id < (SELECT max(id) FROM leadsync.leads WHERE project_id = 'history')
                """, logger: logger)

            func ready(_ project: String, upTo bound: Int) async throws -> Int? {
                try await store.laneStart(project: project, countUpTo: bound)?.ready
            }
            #expect(try await ready("few", upTo: 101) == 3)
            #expect(try await ready("many", upTo: 101) == 101)
            #expect(try await ready("many", upTo: 1000) == 150)
            #expect(try await ready("retry", upTo: 101) == 1)
            #expect(try await ready("history", upTo: 101) == 1)
            #expect(try await store.laneStart(project: "retry", countUpTo: 101)?.retriesDue == true)
            #expect(try await ready("gone", upTo: 101) == nil)
        }
    }

    /// With a few ready, the start also reads the first claim's leads: every never-tried
    /// lead inside the arrival rows, once, in id order; none when they may be more than
    /// asked for, or the rows more than the ranges asked for.
    @Test func theStartReadsTheFirstClaimOfAFewReadyLeads() async throws {
        try await withLeads("('few', 3), ('many', 150), ('older', 250)") { store, client in
            // `older`: its newest 101 finished, 149 never tried below them, in one arrival row.
            try await client.query(
                """
                UPDATE leadsync.leads SET status = 'cancelled' WHERE project_id = 'older'
                  AND id > (SELECT max(id) - 101 FROM leadsync.leads WHERE project_id = 'older')
                """, logger: logger)
            // A second arrival row of `few` over the same leads, as interleaved inserts leave.
            try await client.query(
                """
                INSERT INTO leadsync.arrivals (project_id, first_id, last_id)
                SELECT project_id, min(id), max(id) FROM leadsync.leads WHERE project_id = 'few' GROUP BY project_id
                """, logger: logger)
            let few = try await client.query(
                "SELECT id FROM leadsync.leads WHERE project_id = 'few' ORDER BY id", logger: logger
            ).collect().map { try $0.decode(Int64.self) }

            func firstClaim(_ project: String, ranges: Int = 64) async throws -> [Int64]? {
                try await store.laneStart(
                    project: project, countUpTo: 101, arrivals: 256, firstClaim: 101, ranges: ranges)?
                    .firstClaim?.map(\.id)
            }
            #expect(try await firstClaim("few") == few)
            #expect(try await firstClaim("few", ranges: 1) == nil)
            #expect(try await firstClaim("many") == nil)
            #expect(try await firstClaim("older") == nil)
            let lead = try #require(
                try await store.laneStart(
                    project: "few", countUpTo: 101, arrivals: 256, firstClaim: 101, ranges: 64)?.firstClaim?.first)
            #expect(lead.projectId == "few" && lead.phone == "+14150000001" && lead.attemptCount == 0)
            // Not asked: not read.
            #expect(try await store.laneStart(project: "few", countUpTo: 101, arrivals: 256)?.firstClaim == nil)

            // Several lanes' starts in one statement: each project's own, none for one gone.
            let starts = try await store.laneStarts(
                projects: ["few", "many", "gone", "older"], countUpTo: 101, arrivals: 256, firstClaim: 101,
                ranges: 64)
            #expect(starts.keys.sorted() == ["few", "many", "older"])
            #expect(starts["few"]?.firstClaim?.map(\.id) == few)
            #expect(starts["few"]?.ready == 3 && starts["many"]?.ready == 101 && starts["older"]?.ready == 0)
            #expect(starts["many"]?.firstClaim == nil && starts["many"]?.arrivals.count == 1)
        }
    }

    /// A start counts its own project's open attempts and reads nothing of others': the
    /// entries of attempts finished since the last vacuum stay in an index of open attempts
    /// (migration 0015). By lease only, every start read all of them: 6,000 entries and 650
    /// pages while 10,000 small projects drained.
    @Test func theStartReadsOnlyItsOwnProjectsOpenAttempts() async throws {
        try await withLeads("('quiet', 1)") { store, client in
            try await client.query(
                "ALTER TABLE leadsync.submission_attempts SET (autovacuum_enabled = false)", logger: logger)
            try await client.query(
                """
                INSERT INTO leadsync.submission_attempts (project_id, worker_id, lead_count, lease_expires_at)
                SELECT CASE WHEN i = 1 THEN 'quiet' ELSE 'busy' || i % 1000 END, 'w', 1, now() + interval '1 hour'
                FROM generate_series(1, 10000) AS i
                """, logger: logger)
            try await client.query(
                "UPDATE leadsync.submission_attempts SET finished_at = now(), lease_expires_at = NULL WHERE project_id <> 'quiet'",
                logger: logger)
            try await client.query("ANALYZE leadsync.submission_attempts", logger: logger)

            // Pages read, before any scan marks the dead entries.
            let read = LaneStartQueries.Read(projects: ["quiet"], arrivals: 256, countUpTo: 101)
            let plan = try #require(
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + LaneStartQueries.Read.sql,
                        binds: read.makeBindings()), logger: logger
                ).collect().first?.decode(String.self))
            // The top node's figures come first and include its children's.
            func blocks(_ name: String) -> Int? {
                guard let range = plan.range(of: "\"\(name)\": ") else { return nil }
                return Int(plan[range.upperBound...].prefix { $0.isNumber })
            }
            let pages = try #require(blocks("Shared Hit Blocks")) + (try #require(blocks("Shared Read Blocks")))
            #expect(pages < 100, "the start read \(pages) pages")
            #expect(try await store.laneStart(project: "quiet", countUpTo: 101)?.openAttempts == 1)
        }
    }

    /// A store on a fresh database whose leads are `values` (project, count), numbered phones.
    func withLeads(_ values: String, _ body: (LeadStore, PostgresClient) async throws -> Void) async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO leadsync.leads (project_id, phone)
                            SELECT p, '+1415' || lpad(i::text, 7, '0')
                            FROM (VALUES \(values)) AS v(p, n), generate_series(1, n) AS i
                            """), logger: logger)
                try await body(LeadStore(client: client, logger: logger), client)
            }
        }
    }
}
