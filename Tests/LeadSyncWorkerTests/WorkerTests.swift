import Foundation
import LeadSyncCore
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxClient
import UservoxSimulator

/// `leadsync worker` as a process, a real PostgreSQL and `uservox-sim` over a socket: what
/// only a process shows (signals, exit codes, a worker killed, two workers' lock sessions).
/// The rest runs the worker in-process (`InProcessWorkerTests`). Serialized: each test
/// runs a worker, and the machine has two cores.
@Suite(.serialized) struct WorkerTests {
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

    /// docs/operating.md §22: a project that has caught up is served on the worker's
    /// reserved connection, and its notifications reach its lane directly, so its lead goes
    /// out while a backlog's write-back holds the pool's only connection (and the
    /// dispatcher's sweep waits behind it). The write-back is held by row locks this test
    /// takes; no timing is asserted, only that the lead is sent before they are released.
    @Test func aCaughtUpProjectsLeadGoesOutWhileABacklogHoldsEveryPooledConnection() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["quiet", "bulk"])) { sim in
                let f = Fixture(db: db)
                // The backlog: batches of 2, paused until its leads are locked.
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, paused, max_batch_size) VALUES ('bulk', true, 2)")
                try await f.insert(project: "bulk", count: 6, from: 1000)
                try await f.insert(project: "quiet", count: 1)
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["quiet", "bulk"]),
                    arguments: ["--db-connections", "1"], requestTimeout: 20, lease: 60)
                // The quiet project's lane sends its lead and idles, caught up.
                try await waitUntil("the first quiet lead is submitted") {
                    if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                    return try await f.states(project: "quiet") == ["submitted": 1]
                }
                try await db.withConnection { locker in
                    try await locker.query("BEGIN", logger: f.logger)
                    try await locker.query(
                        "SELECT id FROM leadsync.leads WHERE project_id = 'bulk' FOR NO KEY UPDATE", logger: f.logger)
                    try await f.execute("UPDATE leadsync.projects SET paused = false WHERE project_id = 'bulk'")
                    try await waitUntil("the backlog's write-back waits for its rows on the pool's connection") {
                        try await f.int(
                            """
                            SELECT count(*)::int8 FROM pg_stat_activity
                            WHERE datname = current_database() AND usename = \(WorkerProcess.loginRole)
                              AND wait_event_type = 'Lock' AND query LIKE '%UPDATE leadsync.leads%'
                            """) == 1
                    }
                    try await f.insert(project: "quiet", count: 1, from: 2)
                    try await waitUntil("the second quiet lead is submitted", timeout: .seconds(20)) {
                        if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                        return try await f.states(project: "quiet") == ["submitted": 2]
                    }
                    #expect(try await f.states(project: "bulk") == ["pending": 6])
                    try await locker.query("ROLLBACK", logger: f.logger)
                }
                try await f.waitUntilNothingPending(worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
                #expect(try await f.states() == ["submitted": 8])
            }
        }
    }

    /// docs/operating.md §22: a worker that starts beside backlogs tells them apart from a
    /// quiet project at each lane's start (its ready leads counted), so the quiet project's
    /// first lead takes the request slot backlogs never use instead of queueing behind their
    /// first requests as one more new lane. One slot (`--max-requests 1`); the backlogs'
    /// requests hang until the request timeout, so no timing is asserted: the quiet lead's
    /// request starts before any backlog request has ended.
    @Test func aQuietProjectsFirstLeadGoesAheadOfBacklogsStartingWithTheWorker() async throws {
        let backlogs = ["bulk1", "bulk2", "bulk3"]
        var config = SimulatorConfiguration.projects(backlogs + ["quiet"])
        config.faults.hang = .seconds(30)
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                for (i, project) in backlogs.enumerated() {
                    sim.simulator.setFaultScript([.hang], project: project)
                    try await f.insert(project: project, count: 150, from: (i + 1) * 1000)
                }
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(backlogs + ["quiet"]),
                    arguments: ["--max-requests", "1"], requestTimeout: 10, lease: 15)
                try await waitUntil("a backlog's first request is out") {
                    if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                    return try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL") >= 1
                }
                try await f.insert(project: "quiet", count: 1)
                try await waitUntil("the quiet lead is submitted", timeout: .seconds(40)) {
                    if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                    return try await f.states(project: "quiet") == ["submitted": 1]
                }
                #expect(
                    try await f.int(
                        """
                        SELECT count(*)::int8 FROM leadsync.submission_attempts b
                        WHERE b.project_id <> 'quiet' AND b.finished_at <= (
                            SELECT min(q.started_at) FROM leadsync.submission_attempts q WHERE q.project_id = 'quiet')
                        """) == 0)
                try await f.waitUntilNothingPending(worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
                #expect(try await f.states() == ["submitted": 451])
                #expect(sim.simulator.stats().totals.resentAfterFinal == 0)
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
