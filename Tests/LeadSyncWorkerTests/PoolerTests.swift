import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator

/// README, Behind a connection pooler: a real PgBouncer (Debian's, transaction mode, a
/// process of the test's own) in front of the test server. The worker's pooled queries go
/// through it, its LISTEN connection and lock session straight to PostgreSQL
/// (`LEADSYNC_SESSION_DATABASE_URL`); the admin commands go through it alone.
@Suite(.serialized) struct PoolerTests {
    /// Skips (saying so) where PgBouncer is missing; scripts/test.sh installs it.
    static func available(_ test: String) -> Bool {
        if PgBouncer.binary != nil { return true }
        print("SKIPPED PoolerTests.\(test): pgbouncer is not installed (apt-get install pgbouncer)")
        return false
    }

    @Test func workerBehindTransactionModePgBouncerDrainsWakesAndRecovers() async throws {
        guard Self.available("workerBehindTransactionModePgBouncerDrainsWakesAndRecovers") else { return }
        let projects = ["p1", "p2", "p3"]
        var config = SimulatorConfiguration.projects(projects)
        config.faults.latency = .milliseconds(10)
        config.faults.hang = .seconds(30)
        try await TestDatabase.with { db in
            _ = try await WorkerProcess.workerRoleURL(db.url)
            try await PgBouncer.withRunning(server: db.url, users: ["postgres", WorkerProcess.loginRole]) { bouncer in
                try await UservoxSimulator.withRunning(config) { sim in
                    let f = Fixture(db: db)
                    // Batches of 100: many requests, so many pooled calls through PgBouncer.
                    try await f.execute(
                        "INSERT INTO leadsync.projects (project_id, max_batch_size) SELECT p, 100 FROM unnest(\(projects)::text[]) AS p"
                    )
                    for (i, project) in projects.enumerated() {
                        try await f.insert(project: project, count: 1000, from: i * 100_000 + 1)
                    }
                    // A sweep once a minute: after the first scan, only a notification on
                    // the LISTEN connection wakes the worker within the test's deadlines.
                    let first = try await WorkerProcess.start(
                        database: bouncer.url(db.url), session: db.url, baseURL: sim.baseURL,
                        tokens: tokens(projects), arguments: ["--sweep-interval", "60"], requestTimeout: 20, lease: 25)
                    defer { if first.isRunning { first.signal(SIGKILL) } }
                    try await f.waitUntilNothingPending(first)
                    #expect(try await f.states() == ["submitted": 3000])
                    // Its pool logged in through PgBouncer.
                    #expect(bouncer.log.contains("user=\(WorkerProcess.loginRole)"), "\(bouncer.log.suffix(2000))")

                    // LISTEN wakes it: a new lead is sent long before the next sweep.
                    try await f.insert(project: "p2", count: 5, from: 900_001)
                    try await f.waitUntilNothingPending(timeout: .seconds(20), first)
                    #expect(try await f.states() == ["submitted": 3005])

                    // Killed mid-request: the attempt is recovered by a second worker
                    // through the pooler, and nothing is accepted twice.
                    sim.simulator.setFaultScript([.hang], project: "p1")
                    try await f.insert(project: "p1", count: 50, from: 800_001)
                    try await waitUntil("a request is in flight") {
                        if !first.isRunning { throw WorkerDied(stderr: first.standardError) }
                        return try await f.int(
                            "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL") == 1
                    }
                    first.signal(SIGKILL)
                    try await first.waitForExit()
                    try await f.execute(
                        "UPDATE leadsync.submission_attempts SET lease_expires_at = now() WHERE finished_at IS NULL")
                    let second = try await WorkerProcess.start(
                        database: bouncer.url(db.url), session: db.url, baseURL: sim.baseURL,
                        tokens: tokens(projects))
                    defer { if second.isRunning { second.signal(SIGKILL) } }
                    try await f.waitUntilNothingPending(second)
                    second.signal(SIGTERM)
                    #expect(try await second.waitForExit() == 0)

                    #expect(try await f.states() == ["submitted": 3055])
                    #expect(
                        try await f.int(
                            "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE outcome = 'abandoned'") == 1)
                    let stats = sim.simulator.stats()
                    #expect(stats.totals.accepted == 3055)
                    #expect(stats.totals.resentAfterFinal == 0)
                    for project in projects {
                        #expect((stats.projects[project]?.maxRequestsInWindow ?? 0) <= 100)
                    }
                    #expect(
                        !second.standardError.contains("prepared statement"), "\(second.standardError.suffix(2000))")
                }
            }
        }
    }

    /// statement_timeout applies to each pooled statement although PgBouncer refuses it as
    /// a startup parameter: a sweep blocked on a lock is ended by the server (the worker's
    /// own bound, a second later, would say otherwise), and the worker goes on.
    @Test func statementTimeoutAppliesThroughThePooler() async throws {
        guard Self.available("statementTimeoutAppliesThroughThePooler") else { return }
        try await TestDatabase.with { db in
            _ = try await WorkerProcess.workerRoleURL(db.url)
            try await PgBouncer.withRunning(server: db.url, users: ["postgres", WorkerProcess.loginRole]) { bouncer in
                try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                    let f = Fixture(db: db)
                    // Closed on every path (an open PostgresConnection must not be dropped).
                    let worker = try await db.withConnection { blocker in
                        try await blocker.query("BEGIN", logger: db.logger)
                        try await blocker.query(
                            "LOCK TABLE leadsync.submission_attempts IN ACCESS EXCLUSIVE MODE", logger: db.logger)
                        let worker = try await WorkerProcess.start(
                            database: bouncer.url(db.url), session: db.url, baseURL: sim.baseURL,
                            tokens: tokens(["p1"]), arguments: ["--database-timeout", "3"])
                        do {
                            try await waitUntil("the server cancels a pooled statement", timeout: .seconds(30)) {
                                if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                                return worker.standardError.contains("canceling statement due to statement timeout")
                            }
                        } catch {
                            worker.signal(SIGKILL)
                            throw error
                        }
                        try await blocker.query("ROLLBACK", logger: db.logger)
                        return worker
                    }
                    defer { if worker.isRunning { worker.signal(SIGKILL) } }
                    try await f.insert(project: "p1", count: 20)
                    try await f.waitUntilNothingPending(timeout: .seconds(30), worker)
                    worker.signal(SIGTERM)
                    #expect(try await worker.waitForExit() == 0)
                    #expect(try await f.states() == ["submitted": 20])
                }
            }
        }
    }

    /// LEADSYNC_PREPARED_STATEMENTS=on through PgBouncer 1.18, which cannot keep named
    /// statements in transaction mode: the first one lost turns them off, the call is
    /// made again unnamed, and nothing is lost or sent twice.
    @Test func namedStatementsThatThePoolerLosesFallBackToUnnamed() async throws {
        guard Self.available("namedStatementsThatThePoolerLosesFallBackToUnnamed") else { return }
        let projects = ["p1", "p2", "p3", "p4"]
        try await TestDatabase.with { db in
            let role = try await WorkerProcess.workerRoleURL(db.url)
            // One server connection for the worker's role, on which another client has
            // left statements of the worker's names: what sharing a server connection
            // does to named statements, made certain.
            try await PgBouncer.withRunning(
                server: db.url, users: ["postgres", WorkerProcess.loginRole], poolSize: 1
            ) { bouncer in
                try await bouncer.url(role).withConnection(logger: db.logger, settings: []) { c in
                    for name in [
                        "LeadQueries.ClaimArrived", "LeadQueries.ReadArrivals", "LeadQueries.ClaimFreePhones",
                        "AttemptQueries.InsertFenced",
                        "AttemptQueries.FinishAllAccepted", "LaneStartQueries.Read",
                    ] {
                        try await c.query(
                            PostgresQuery(unsafeSQL: "PREPARE \"LeadSyncStore.\(name)\" AS SELECT 1"), logger: db.logger
                        )
                    }
                }
                try await UservoxSimulator.withRunning(.projects(projects)) { sim in
                    let f = Fixture(db: db)
                    try await f.execute(
                        "INSERT INTO leadsync.projects (project_id, max_batch_size) SELECT p, 50 FROM unnest(\(projects)::text[]) AS p"
                    )
                    for (i, project) in projects.enumerated() {
                        try await f.insert(project: project, count: 500, from: i * 100_000 + 1)
                    }
                    let worker = try await WorkerProcess.start(
                        database: bouncer.url(db.url), session: db.url, baseURL: sim.baseURL, tokens: tokens(projects),
                        environment: [DatabaseSetup.preparedStatementsVariable: "on"])
                    defer { if worker.isRunning { worker.signal(SIGKILL) } }
                    try await f.waitUntilNothingPending(worker)
                    worker.signal(SIGTERM)
                    #expect(try await worker.waitForExit() == 0)
                    #expect(try await f.states() == ["submitted": 2000])
                    let stats = sim.simulator.stats()
                    #expect(stats.totals.accepted == 2000 && stats.totals.resentAfterFinal == 0)
                    #expect(
                        worker.standardError.contains("does not keep named prepared statements"),
                        "\(worker.standardError.suffix(2000))")
                }
            }
        }
    }

    /// A login role whose settings give every server session the worker's values: the
    /// worker sees so at start and sends each pooled call alone, one round trip.
    @Test func roleSettingsLetEachPooledCallGoAlone() async throws {
        guard Self.available("roleSettingsLetEachPooledCallGoAlone") else { return }
        try await TestDatabase.with { db in
            _ = try await WorkerProcess.workerRoleURL(db.url)
            let f = Fixture(db: db)
            // In this database only: other tests share the role.
            for setting in ["statement_timeout = '29s'", "random_page_cost = 1.1"] {
                try await f.execute(
                    PostgresQuery(
                        unsafeSQL:
                            "ALTER ROLE \(WorkerProcess.loginRole) IN DATABASE \(db.url.database) SET \(setting)"))
            }
            try await PgBouncer.withRunning(server: db.url, users: ["postgres", WorkerProcess.loginRole]) { bouncer in
                try await UservoxSimulator.withRunning(.projects(["p1", "p2"])) { sim in
                    try await f.insert(project: "p1", count: 1500)
                    try await f.insert(project: "p2", count: 1500, from: 100_001)
                    let worker = try await WorkerProcess.start(
                        database: bouncer.url(db.url), session: db.url, baseURL: sim.baseURL,
                        tokens: tokens(["p1", "p2"]))
                    defer { if worker.isRunning { worker.signal(SIGKILL) } }
                    try await f.waitUntilNothingPending(worker)
                    worker.signal(SIGTERM)
                    #expect(try await worker.waitForExit() == 0)
                    #expect(worker.standardError.contains("each pooled call goes alone"), "\(worker.standardError)")
                    #expect(try await f.states() == ["submitted": 3000])
                    let stats = sim.simulator.stats()
                    #expect(stats.totals.accepted == 3000 && stats.totals.resentAfterFinal == 0)
                }
            }
        }
    }

    /// Pointed at a transaction-mode pooler for its sessions, the worker refuses to start
    /// in one line that says what to set.
    @Test func workerRefusesAPoolerForItsSessions() async throws {
        guard Self.available("workerRefusesAPoolerForItsSessions") else { return }
        try await TestDatabase.with { db in
            _ = try await WorkerProcess.workerRoleURL(db.url)
            try await PgBouncer.withRunning(server: db.url, users: ["postgres", WorkerProcess.loginRole]) { bouncer in
                // DATABASE_URL through PgBouncer, no session URL.
                let alone = try await WorkerProcess.start(
                    database: bouncer.url(db.url), baseURL: "http://127.0.0.1:1", tokens: tokens(["p1"]))
                defer { if alone.isRunning { alone.signal(SIGKILL) } }
                #expect(try await alone.waitForExit(timeout: .seconds(30)) == 1)
                let line = alone.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(!line.contains("\n"), "\(line)")
                #expect(line.contains("leads to a connection pooler"), "\(line)")
                #expect(line.contains("set LEADSYNC_SESSION_DATABASE_URL to a direct connection"), "\(line)")

                // The session URL through PgBouncer too: two connections, one server session.
                let both = try await WorkerProcess.start(
                    database: bouncer.url(db.url), session: bouncer.url(db.url), baseURL: "http://127.0.0.1:1",
                    tokens: tokens(["p1"]))
                defer { if both.isRunning { both.signal(SIGKILL) } }
                #expect(try await both.waitForExit(timeout: .seconds(30)) == 1)
                #expect(
                    both.standardError.contains("LEADSYNC_SESSION_DATABASE_URL")
                        && both.standardError.contains("transaction-mode pooler"), "\(both.standardError)")
            }
        }
    }

    /// Admin commands need no session state: they work through PgBouncer alone, each as a
    /// member of its role; `migrate` (a lock across transactions) says it needs the session URL.
    @Test func adminCommandsWorkThroughThePooler() async throws {
        guard Self.available("adminCommandsWorkThroughThePooler") else { return }
        try await TestDatabase.with { db in
            let f = Fixture(db: db)
            try await f.insert(project: "p1", count: 3)
            try await f.execute("INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', 'call me')")
            try await db.withLoginRole(memberOf: DatabaseRoles.standard.reader) { reader in
                try await db.withLoginRole(memberOf: DatabaseRoles.standard.admin) { admin in
                    try await PgBouncer.withRunning(
                        server: db.url, users: ["postgres", reader.username, admin.username]
                    ) { bouncer in
                        func run(_ arguments: [String], _ url: DatabaseURL, _ extra: [String: String] = [:])
                            async throws -> (Int32, String, String)
                        {
                            let process = try ManagedProcess(
                                ProductBinary.path("leadsync"), arguments: arguments,
                                environment: ["DATABASE_URL": bouncer.url(url).urlString, "NO_COLOR": "1"].merging(
                                    extra
                                ) { _, given in given })
                            let status = try await process.waitForExit(timeout: .seconds(30))
                            return (status, process.standardOutput, process.standardError)
                        }
                        let report = try await run(["report", "--format", "json"], reader)
                        #expect(report.0 == 0, "\(report.2)")
                        #expect(report.1.contains("\"p1\""), "\(report.1)")
                        let check = try await run(["check"], reader)
                        #expect(check.0 == 0, "\(check.2)")
                        #expect(check.1.contains("local_invalid_phone"), "\(check.1)")
                        let set = try await run(["project", "set", "p1", "--rate", "50"], admin)
                        #expect(set.0 == 0, "\(set.2)")
                        #expect(
                            try await f.int(
                                "SELECT rate_limit_requests::int8 FROM leadsync.projects WHERE project_id = 'p1'")
                                == 50)
                        let pause = try await run(["project", "pause", "p1", "--reason", "maintenance"], admin)
                        #expect(pause.0 == 0, "\(pause.2)")
                        let list = try await run(["project", "list", "--format", "csv"], reader)
                        #expect(list.0 == 0 && list.1.contains("maintenance"), "\(list.1) \(list.2)")

                        // migrate: refused through the pooler alone, fine with a session URL.
                        let migrate = try await run(["migrate"], db.url)
                        #expect(migrate.0 == 1, "\(migrate.1) \(migrate.2)")
                        #expect(migrate.2.contains("set LEADSYNC_SESSION_DATABASE_URL"), "\(migrate.2)")
                        let status = try await run(["migrate", "--status"], db.url)
                        #expect(status.0 == 0 && status.1.contains("up to date"), "\(status.1) \(status.2)")
                        let direct = try await run(
                            ["migrate"], db.url, [DatabaseSetup.sessionVariable: db.url.urlString])
                        #expect(direct.0 == 0 && direct.1.contains("up to date"), "\(direct.1) \(direct.2)")
                    }
                }
            }
        }
    }
}
