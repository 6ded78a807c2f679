import Foundation
import LeadSyncCore
import LeadSyncStore
import LeadSyncTesting
import LeadSyncWorker
import PostgresNIO
import Testing
import UservoxClient
import UservoxSimulator

/// `LeadSyncWorker.Worker` run in this process, as the CLI runs it: the same services,
/// debuggable, no binary to build; stopped as SIGTERM stops it (`withInProcessWorker`).
/// Signals, exit codes and killed workers stay with the process tests (`WorkerTests`).
/// Serialized: each test runs a worker, and the machine has two cores.
@Suite(.serialized) struct InProcessWorkerTests {
    @Test func onceDrainsWhatIsReadyAndReturns() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1", "p2"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 300)
                try await f.insert(project: "p2", count: 200)
                try await f.execute("INSERT INTO leadsync.leads (project_id, phone) VALUES ('p2', 'call me')")
                let worker = try Worker(
                    configuration: WorkerConfiguration(once: true, sweepInterval: .milliseconds(200)),
                    database: try await WorkerProcess.workerRoleURL(db.url), baseURL: sim.baseURL,
                    tokensPath: try WorkerProcess.writeTokens(tokens(["p1", "p2"])), logger: db.logger)
                try await worker.run()
                #expect(try await f.states() == ["submitted": 500, "invalid": 1])
                #expect(worker.progress.current.submitted == 500)
                #expect(sim.simulator.stats().totals.accepted == 500)
            }
        }
    }

    /// docs/contract.md §3: of several leads with one phone the earliest wins, also when the
    /// earlier one was sent long ago. New leads' phones are claimed with their attempt; the
    /// one held by the sent lead fails that attempt, the phones are judged, and the batch
    /// goes without the duplicate, which is invalid and never sent; in one insert, the
    /// second of two leads with one phone is refused before anything is recorded.
    @Test func aPhoneHeldBySentLeadsMakesTheNewcomerALocalDuplicate() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                func drain() async throws {
                    let worker = try Worker(
                        configuration: WorkerConfiguration(once: true, sweepInterval: .milliseconds(200)),
                        database: try await WorkerProcess.workerRoleURL(db.url), baseURL: sim.baseURL,
                        tokensPath: try WorkerProcess.writeTokens(tokens(["p1"])), logger: db.logger)
                    try await worker.run()
                }
                try await f.insert(project: "p1", count: 3)
                try await drain()
                // +14150000002 is held by a lead sent already; +14150000009 twice in this insert.
                try await f.execute(
                    """
                    INSERT INTO leadsync.leads (project_id, phone) VALUES
                        ('p1', '+14150000004'), ('p1', '+14150000002'), ('p1', '+14150000009'), ('p1', '+14150000009')
                    """)
                try await drain()
                #expect(try await f.states() == ["submitted": 5, "invalid": 2])
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.invalid_leads WHERE source = 'local' AND reason = 'local_duplicate'"
                    ) == 2)
                #expect(sim.simulator.stats().totals.accepted == 5)
                // Every phone has one holder, a lead sent.
                #expect(
                    try await f.int(
                        """
                        SELECT count(*)::int8 FROM leadsync.phone_claims c JOIN leadsync.leads l ON l.id = c.lead_id
                        WHERE l.status = 'submitted'
                        """) == 5)
            }
        }
    }

    /// docs/contract.md §2.2: a lead whose transaction took its id early and committed late,
    /// after the lane had read and sent every later lead of its project, is still found (its
    /// arrival row commits with it) and sent exactly once; once all is sent, no arrival row
    /// is left to make the project look ready.
    @Test func aLeadCommittedLateBelowWhatWasReadIsSentOnce() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                // The project's row exists: the leads' triggers of the two transactions do not wait on each other.
                try await f.execute("INSERT INTO leadsync.projects (project_id) VALUES ('p1')")
                try await db.withConnection { late in
                    // Takes the lowest id of the project, and commits last.
                    try await late.query("BEGIN", logger: db.logger)
                    try await late.query(
                        "INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', '+14159990001')",
                        logger: db.logger)
                    try await f.insert(project: "p1", count: 250)
                    try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1"])) { _ in
                        try await waitUntil("the committed leads sent", timeout: .seconds(60), poll: .milliseconds(50))
                        {
                            try await f.int("SELECT count(*)::int8 FROM leadsync.leads WHERE status = 'submitted'")
                                == 250
                        }
                        try await late.query("COMMIT", logger: db.logger)
                        try await f.waitUntilNothingPending()
                        try await waitUntil("no arrival row left", timeout: .seconds(30), poll: .milliseconds(50)) {
                            try await f.int("SELECT count(*)::int8 FROM leadsync.arrivals") == 0
                        }
                    }
                }
                #expect(try await f.states() == ["submitted": 251])
                #expect(sim.simulator.stats().totals.accepted == 251)
                #expect(sim.simulator.stats().totals.resentAfterFinal == 0)
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM (SELECT lead_id FROM leadsync.attempt_leads GROUP BY lead_id HAVING count(*) > 1) d"
                    ) == 0)
            }
        }
    }

    /// Leads released from held go back to pending, never tried: the release writes their
    /// arrival row (migration 0011), and the worker sends them.
    @Test func releasedLeadsAreFoundThroughTheirArrivalRow() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 30)
                try await f.execute(
                    """
                    UPDATE leadsync.leads SET status = 'held', held_reason = 'project_paused' WHERE id % 3 = 0
                    """)
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1"])) { _ in
                    try await waitUntil("the others sent", timeout: .seconds(60), poll: .milliseconds(50)) {
                        try await f.int("SELECT count(*)::int8 FROM leadsync.leads WHERE status = 'pending'") == 0
                    }
                    try await waitUntil("no arrival row left", timeout: .seconds(30), poll: .milliseconds(50)) {
                        try await f.int("SELECT count(*)::int8 FROM leadsync.arrivals") == 0
                    }
                    try await f.execute(
                        """
                        UPDATE leadsync.leads SET status = 'pending', held_reason = NULL WHERE status = 'held'
                        """)
                    try await f.waitUntilNothingPending()
                }
                #expect(try await f.states() == ["submitted": 30])
                #expect(sim.simulator.stats().totals.accepted == 30)
            }
        }
    }

    @Test func tenThousandLeadsOverThreeProjectsMatchTheSimulatorsVerdicts() async throws {
        let projects = ["p1", "p2", "p3"]
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(projects)) { sim in
                let f = Fixture(db: db)
                // Phones another system already called: the API rejects them (api_duplicate_call).
                try await preCall(sim: sim, project: "p1", phones: (1...20).map { "+1415" + pad($0) })
                try await f.insert(project: "p1", count: 3400)
                try await f.insert(project: "p2", count: 3300)
                try await f.insert(project: "p3", count: 3300)
                // Bad data caught locally, never sent.
                try await f.execute(
                    """
                    INSERT INTO leadsync.leads (project_id, phone) VALUES
                        ('p2', 'call me'), ('p2', '+15550000000'), ('p3', '+14150000001'), ('p3', '+1 415 000 0002')
                    """)
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(projects)) { _ in
                    try await f.waitUntilNothingPending()
                }

                let states = try await f.states()
                #expect(states["submitted"] == 10_000 - 20)
                #expect(states["invalid"] == 20 + 4)
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.invalid_leads WHERE source = 'api' AND reason = 'api_duplicate_call'"
                    )
                        == 20)
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.invalid_leads WHERE source = 'local'") == 4)

                // Every lead's final state is the simulator's verdict on it.
                var verdicts: [String: SimulatorVerdict.Result] = [:]
                for verdict in sim.simulator.verdicts() {
                    if let reference = verdict.referenceId { verdicts[reference] = verdict.result }
                }
                let rows = try await db.withConnection { c in
                    try await c.query(
                        """
                        SELECT l.id, l.status, i.source FROM leadsync.leads l
                        LEFT JOIN leadsync.invalid_leads i ON i.lead_id = l.id
                        """, logger: db.logger
                    ).collect().map { try $0.decode((Int64, String, String?).self) }
                }
                var mismatches = 0
                for (id, status, source) in rows {
                    let verdict = verdicts["ls-\(id)"]
                    switch (status, source) {
                    case ("submitted", _): if verdict != .accepted { mismatches += 1 }
                    case ("invalid", "api"): if verdict != .rejected { mismatches += 1 }
                    case ("invalid", "local"): if verdict != nil { mismatches += 1 }
                    default: mismatches += 1
                    }
                }
                #expect(mismatches == 0)

                let stats = sim.simulator.stats()
                #expect(stats.totals.resentAfterFinal == 0)
                #expect(stats.totals.rateLimited == 0)
                for project in projects {
                    #expect((stats.projects[project]?.maxRequestsInWindow ?? 0) <= 100)
                }
                #expect(
                    try await f.int("SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL")
                        == 0)
            }
        }
    }

    @Test func serverErrorsAndDroppedConnectionsEndSubmittedAfterBackoff() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                // 500 without processing, a dropped connection, then processed-but-500:
                // the last one's leads come back as duplicates and are confirmed submitted.
                sim.simulator.setFaultScript([.serverError, .drop, .processedThen500], project: "p1")
                try await f.insert(project: "p1", count: 300)
                try await f.execute("UPDATE leadsync.projects SET max_batch_size = 100")
                // Generous time limits: on a loaded machine the 2 s default could turn the
                // dropped connection into a timeout (or its lease into an abandoned attempt).
                try await withInProcessWorker(
                    db: db, baseURL: sim.baseURL, tokens: tokens(["p1"]),
                    configuration: testWorkerConfiguration(requestTimeout: .seconds(10), lease: .seconds(15))
                ) { _ in
                    try await f.waitUntilNothingPending()
                }

                let finalStates = try await f.states()
                #expect(finalStates == ["submitted": 300], "\(finalStates)")
                let outcomes = try await db.withConnection { c in
                    try await c.query(
                        "SELECT outcome, count(*)::int8 FROM leadsync.submission_attempts GROUP BY 1 ORDER BY 1",
                        logger: db.logger
                    ).collect().map { try $0.decode((String, Int64).self) }
                }
                let byOutcome = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.0, Int($0.1)) })
                #expect(byOutcome["server_error"] == 2, "\(byOutcome)")
                // The drop: a lost connection, or now and then a timeout. Under CI's load the
                // simulator's close has been seen not to reach the client within 10 s; both
                // are ambiguous and take the same path (docs/contract.md §3).
                #expect((byOutcome["network_error"] ?? 0) + (byOutcome["timeout"] ?? 0) == 1, "\(byOutcome)")
                // The processed-then-500 batch was resent once; the simulator answered duplicates.
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.attempt_leads WHERE result = 'accepted' AND message IS NOT NULL"
                    )
                        == 100)
                #expect(sim.simulator.stats().totals.accepted == 300)
            }
        }
    }

    @Test func rateLimitedAnswersAreHonoured() async throws {
        var config = SimulatorConfiguration.projects(["p1"])
        config.rateLimit = .init(requests: 3, window: .seconds(2))
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                // LeadSync believes it may send far more than the API allows; one request
                // at a time, so each 429 is answered before anything else is sent.
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, max_batch_size, max_in_flight) VALUES ('p1', 50, 1)")
                try await f.insert(project: "p1", count: 500)
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1"])) { _ in
                    try await f.waitUntilNothingPending(timeout: .seconds(90))
                }
                #expect(try await f.states() == ["submitted": 500])
                let stats = try #require(sim.simulator.stats().projects["p1"])
                #expect(stats.rateLimited >= 1)
                #expect(stats.accepted == 500 && stats.resentAfterFinal == 0)
                // Honoured: after each 429 (Retry-After is at least 1 s) nothing starts sooner.
                let early = try await f.int(
                    """
                    SELECT count(*)::int8 FROM leadsync.submission_attempts a
                    JOIN LATERAL (SELECT min(n.started_at) AS next FROM leadsync.submission_attempts n
                                  WHERE n.started_at > a.finished_at) n ON true
                    WHERE a.outcome = 'rate_limited' AND n.next < a.finished_at + interval '900 milliseconds'
                    """)
                #expect(early == 0)
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE outcome = 'rate_limited'")
                        == stats.rateLimited)
            }
        }
    }

    @Test func forbiddenPausesTheProjectAndHoldsItsLeads() async throws {
        var config = SimulatorConfiguration.projects(["p1", "p2"])
        config.projects["p1"]?.active = false
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                // One request at a time, so exactly one is out when the 403 comes back.
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, max_batch_size, max_in_flight) VALUES ('p1', 10, 1), ('p2', 10, 1)"
                )
                try await f.insert(project: "p1", count: 25)
                try await f.insert(project: "p2", count: 5)
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"])) { _ in
                    try await waitUntil("p1 paused, p2 done") {
                        let paused = try await f.int(
                            "SELECT count(*)::int8 FROM leadsync.projects WHERE project_id = 'p1' AND paused")
                        let p2 = try await f.states(project: "p2")
                        return paused == 1 && p2 == ["submitted": 5]
                    }
                }
                // The answered batch is held; the rest waits, pending, and nothing more is sent.
                #expect(try await f.states(project: "p1") == ["held/project_inactive": 10, "pending": 15])
                #expect(sim.simulator.stats().projects["p1"]?.requests == 1)
                let reason = try await db.withConnection { c in
                    try await c.query(
                        "SELECT pause_reason FROM leadsync.projects WHERE project_id = 'p1'", logger: db.logger
                    )
                    .collect().first?.decode(String.self)
                }
                #expect(reason?.contains("project_inactive") == true)
            }
        }
    }

    @Test func unknownProcessInvalidatesThatProcessOnly() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"], processes: ["known"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 10, from: 1, process: "known")
                try await f.insert(project: "p1", count: 5, from: 100, process: "ghost")
                try await f.insert(project: "p1", count: 10, from: 200, process: "known")
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1"])) { _ in
                    try await f.waitUntilNothingPending()
                }
                #expect(try await f.states() == ["submitted": 20, "invalid": 5])
                #expect(
                    try await f.int(
                        """
                        SELECT count(*)::int8 FROM leadsync.invalid_leads i JOIN leadsync.leads l ON l.id = i.lead_id
                        WHERE l.process_id = 'ghost' AND i.reason = 'api_process_not_found'
                          AND i.message = 'Process not found for lead with processId: ghost'
                        """) == 5)
            }
        }
    }
}
