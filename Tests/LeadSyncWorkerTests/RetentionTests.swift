import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator

/// `leadsync prune --leads` while a worker drains (docs/contract.md §7.3): the prune takes only
/// old finished leads, the worker loses and duplicates nothing, and every count is right.
@Suite(.serialized) struct RetentionTests {
    @Test func pruningWhileAWorkerDrainsLosesAndDuplicatesNothing() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["live"])) { sim in
                let f = Fixture(db: db)
                // A year-old history: 12,000 finished leads of 'old' and 1,000 of 'live' itself,
                // each with an attempt_leads row, markers for the invalid, claims for the submitted.
                try await f.execute(
                    """
                    INSERT INTO leadsync.submission_attempts (project_id, worker_id, lead_count, started_at, finished_at, outcome)
                    VALUES ('old', 'w0', 1000, '2020-01-01 00:00:00+00', '2020-01-01 00:00:01+00', 'ok')
                    """)
                try await f.execute(
                    """
                    WITH made AS (
                        INSERT INTO leadsync.leads (project_id, phone, status, updated_at)
                        SELECT CASE WHEN i <= 1000 THEN 'live' ELSE 'old' END, '+1416' || lpad(i::text, 7, '0'),
                               (ARRAY['submitted', 'invalid', 'cancelled'])[1 + i % 3], now() - interval '365 days'
                        FROM generate_series(1, 13000) AS i
                        RETURNING id, project_id, status, phone
                    ), history AS (
                        INSERT INTO leadsync.attempt_leads (attempt_id, lead_id, result)
                        SELECT (SELECT max(id) FROM leadsync.submission_attempts), id, 'accepted' FROM made
                    ), markers AS (
                        INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source)
                        SELECT id, project_id, 'api_rejected', 'no', 'api' FROM made WHERE status = 'invalid'
                    )
                    INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id)
                    SELECT project_id, substr(phone, 2), id FROM made WHERE status = 'submitted'
                    """)
                try await f.insert(project: "live", count: 4000)
                try await f.execute("UPDATE leadsync.projects SET max_batch_size = 100 WHERE project_id = 'live'")

                let prune = try ManagedProcess(
                    ProductBinary.path("leadsync"),
                    arguments: ["prune", "--leads", "--older-than", "1d", "--batch-size", "200", "--pause", "10ms"],
                    environment: ["DATABASE_URL": db.url.urlString, "NO_COLOR": "1", "LOG_LEVEL": "warning"])
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["live"]))
                try await f.waitUntilNothingPending(worker)
                #expect(try await prune.waitForExit(timeout: .seconds(120)) == 0, "\(prune.standardError)")
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)

                #expect(
                    prune.standardOutput.contains("  live: cancelled 333, invalid 334, submitted 333"),
                    "\(prune.standardOutput)")
                #expect(
                    prune.standardOutput.contains("  old: cancelled 4000, invalid 4000, submitted 4000"),
                    "\(prune.standardOutput)")
                // Every new lead of 'live' was sent once and is submitted; nothing old is left.
                #expect(try await f.states() == ["submitted": 4000])
                let stats = sim.simulator.stats().totals
                #expect(
                    stats.leadsReceived == 4000 && stats.accepted == 4000 && stats.resentAfterFinal == 0, "\(stats)")
                #expect(
                    try await f.int(
                        """
                        SELECT count(DISTINCT al.lead_id)::int8 FROM leadsync.attempt_leads al
                        JOIN leadsync.leads l ON l.id = al.lead_id AND l.status = 'submitted'
                        """) == 4000)
                #expect(try await f.int("SELECT count(*)::int8 FROM leadsync.phone_claims") == 4000)
                #expect(
                    try await f.int(
                        """
                        SELECT (SELECT count(*) FROM leadsync.attempt_leads al
                                WHERE NOT EXISTS (SELECT 1 FROM leadsync.leads l WHERE l.id = al.lead_id))
                             + (SELECT count(*) FROM leadsync.invalid_leads i
                                WHERE NOT EXISTS (SELECT 1 FROM leadsync.leads l WHERE l.id = i.lead_id))
                             + (SELECT count(*) FROM leadsync.phone_claims c
                                WHERE NOT EXISTS (SELECT 1 FROM leadsync.leads l WHERE l.id = c.lead_id))
                        """) == 0)
                // lead_counts, folded, says what a recount says.
                #expect(
                    try await f.int(
                        """
                        SELECT count(*)::int8 FROM (
                            SELECT project_id, status, sum(delta) AS n FROM leadsync.lead_counts GROUP BY 1, 2
                        ) k FULL JOIN (
                            SELECT project_id, status, count(*) AS n FROM leadsync.leads GROUP BY 1, 2
                        ) r ON r.project_id = k.project_id AND r.status = k.status
                        WHERE coalesce(k.n, 0) <> coalesce(r.n, 0)
                        """) == 0)
            }
        }
    }
}
