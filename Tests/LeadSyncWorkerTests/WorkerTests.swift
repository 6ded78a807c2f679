import Foundation
import LeadSyncCore
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxClient
import UservoxSimulator

/// `leadsync worker` as a process, a real PostgreSQL and `uservox-sim` over a socket.
/// Serialized: each test runs a worker, and the machine has two cores.
@Suite(.serialized) struct WorkerTests {
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
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(projects))
                try await f.waitUntilNothingPending(worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)

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
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]), requestTimeout: 10, lease: 15)
                try await f.waitUntilNothingPending(worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)

                let finalStates = try await f.states()
                #expect(finalStates == ["submitted": 300], "\(finalStates)\n\(worker.standardError.suffix(4000))")
                let outcomes = try await db.withConnection { c in
                    try await c.query(
                        "SELECT outcome, count(*)::int8 FROM leadsync.submission_attempts GROUP BY 1 ORDER BY 1",
                        logger: db.logger
                    ).collect().map { try $0.decode((String, Int64).self) }
                }
                let byOutcome = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.0, Int($0.1)) })
                #expect(byOutcome["server_error"] == 2, "\(byOutcome)")
                #expect(byOutcome["network_error"] == 1, "\(byOutcome)\n\(worker.standardError.suffix(4000))")
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
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]))
                try await f.waitUntilNothingPending(timeout: .seconds(90), worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
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
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"]))
                try await waitUntil("p1 paused, p2 done") {
                    let paused = try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.projects WHERE project_id = 'p1' AND paused")
                    let p2 = try await f.states(project: "p2")
                    return paused == 1 && p2 == ["submitted": 5]
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
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
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
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]))
                try await f.waitUntilNothingPending(worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
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

    @Test func killedMidRequestThenRestartedLosesNothingAndAcceptsNothingTwice() async throws {
        var config = SimulatorConfiguration.projects(["p1"])
        config.faults.hang = .seconds(30)
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                // The first request hangs: the worker is killed while it waits for the answer.
                sim.simulator.setFaultScript([.hang], project: "p1")
                try await f.insert(project: "p1", count: 200)
                let first = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]), requestTimeout: 20, lease: 25)
                try await waitUntil("a request is in flight") {
                    try await f.int("SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL")
                        == 1
                }
                first.signal(SIGKILL)
                try await first.waitForExit()

                // The dead worker's attempt is recovered once its lease ends (shortened here).
                try await f.execute(
                    "UPDATE leadsync.submission_attempts SET lease_expires_at = now() WHERE finished_at IS NULL")
                let second = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]))
                try await f.waitUntilNothingPending(second)
                second.signal(SIGTERM)
                #expect(try await second.waitForExit() == 0)

                #expect(try await f.states() == ["submitted": 200])
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE outcome = 'abandoned'") == 1)
                let stats = try #require(sim.simulator.stats().projects["p1"])
                #expect(stats.accepted == 200)
                #expect(stats.resentAfterFinal == 0)
            }
        }
    }

    @Test func twoWorkersNeverServeOneProjectAtOnce() async throws {
        let projects = ["p1", "p2", "p3", "p4"]
        var config = SimulatorConfiguration.projects(projects)
        config.faults.latency = .milliseconds(20)
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                let a = try await WorkerProcess.start(database: db.url, baseURL: sim.baseURL, tokens: tokens(projects))
                let b = try await WorkerProcess.start(database: db.url, baseURL: sim.baseURL, tokens: tokens(projects))
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, max_batch_size) SELECT unnest(\(projects)::text[]), 100"
                )
                for (i, project) in projects.enumerated() {
                    try await f.insert(project: project, count: 1500, from: i * 10_000 + 1)
                }
                try await f.waitUntilNothingPending(a)
                a.signal(SIGTERM)
                b.signal(SIGTERM)
                #expect(try await a.waitForExit() == 0)
                #expect(try await b.waitForExit() == 0)

                #expect(try await f.states() == ["submitted": 6000])
                let stats = sim.simulator.stats()
                #expect(stats.totals.accepted == 6000)
                #expect(stats.totals.resentAfterFinal == 0)
                // No two attempts of one project by different workers overlap in time.
                #expect(
                    try await f.int(
                        """
                        SELECT count(*)::int8 FROM leadsync.submission_attempts x JOIN leadsync.submission_attempts y
                          ON x.project_id = y.project_id AND x.worker_id < y.worker_id
                         AND tstzrange(x.started_at, x.finished_at) && tstzrange(y.started_at, y.finished_at)
                        """) == 0)
            }
        }
    }

    @Test func sigtermLetsTheRequestInFlightFinishAndExitsZero() async throws {
        var config = SimulatorConfiguration.projects(["p1"])
        config.faults.latency = .milliseconds(800)
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, max_batch_size, max_in_flight) VALUES ('p1', 50, 1)")
                try await f.insert(project: "p1", count: 500)
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]))
                try await waitUntil("a request is in flight") {
                    try await f.int("SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL")
                        == 1
                }
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit(timeout: .seconds(20)) == 0)
                #expect(
                    try await f.int("SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL")
                        == 0)
                let states = try await f.states()
                #expect((states["submitted"] ?? 0) >= 50)
                #expect((states["submitted"] ?? 0) + (states["pending"] ?? 0) == 500)
                // What was sent is exactly what is submitted.
                #expect(sim.simulator.stats().totals.accepted == states["submitted"])
            }
        }
    }

    @Test func projectWithoutATokenIsHeldThenReleasedOnSIGHUP() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1", "p2"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p2", count: 7)
                let tokensPath = try WorkerProcess.writeTokens(tokens(["p1"]))
                let worker = try ManagedProcess(
                    ProductBinary.path("leadsync"), arguments: ["worker", "--sweep-interval", "0.2"],
                    environment: [
                        "DATABASE_URL": db.url.urlString, "USERVOX_BASE_URL": sim.baseURL,
                        "LEADSYNC_TOKENS_FILE": tokensPath,
                    ])
                try await waitUntil("p2 held") { try await f.states() == ["held/token_missing": 7] }
                #expect(!worker.standardError.contains("tok-"))
                _ = FileManager.default.createFile(
                    atPath: tokensPath, contents: Data(#"{"p1": "tok-p1", "p2": "tok-p2"}"#.utf8),
                    attributes: [.posixPermissions: 0o600])
                worker.signal(SIGHUP)
                try await f.waitUntilNothingPending(worker)
                try await waitUntil("p2 submitted") { try await f.states() == ["submitted": 7] }
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
                #expect(!worker.standardError.contains("tok-p"))
            }
        }
    }
}

/// Tells the simulator these phones were already called in the project (by someone else).
func preCall(sim: SimulatorEndpoint, project: String, phones: [String]) async throws {
    let configuration = UservoxClient.Configuration(baseURL: sim.baseURL)
    let http = UservoxClient.makeHTTPClient(configuration)
    let client = UservoxClient(configuration: configuration, httpClient: http)
    let batch = BatchPlanner.Batch(
        mode: .leads, initialize: true,
        leads: phones.enumerated().map {
            Lead(
                id: Int64(-1 - $0.offset), projectId: project, processId: "another-campaign", phone: $0.element,
                referenceId: "other-\($0.offset)")
        })
    let exchange = await client.send(
        batch: batch, body: RequestBody.encode(batch), token: "tok-\(project)", logger: TestDatabase.logger)
    try await http.shutdown()
    guard case .processed = exchange.answer else {
        throw WaitTimedOut(description: "pre-call failed: \(exchange.answer)")
    }
}

func pad(_ n: Int) -> String {
    let text = String(n)
    return String(repeating: "0", count: max(0, 7 - text.count)) + text
}
