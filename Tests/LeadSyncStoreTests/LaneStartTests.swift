import LeadSyncTesting
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// What a lane reads at its start (docs/operating.md §21, §22), here how many leads are
/// ready: of the newest, those never tried, and retries come due, read only as far as asked.
@Suite struct LaneStartTests {
    let logger = TestDatabase.logger

    @Test func theStartCountsReadyLeadsUpToTheBoundAsked() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    SELECT p, '+1415' || lpad(i::text, 7, '0')
                    FROM (VALUES ('few', 3), ('many', 150), ('retry', 3), ('history', 300)) AS v(p, n), generate_series(1, n) AS i
                    """, logger: logger)
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
    }
}
