import AsyncHTTPClient
import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator
import WireJSON

/// Running the worker for real: --once, JSON logs, metrics, a PostgreSQL restart.
@Suite(.serialized) struct OperatingTests {
    @Test func onceDrainsAndExitsZeroWithJSONLogsAndNoToken() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 1500)
                try await f.execute("INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', 'nope')")
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]),
                    arguments: ["--once", "--log-format", "json"])
                #expect(try await worker.waitForExit() == 0)
                #expect(try await f.states() == ["submitted": 1500, "invalid": 1])
                #expect(worker.standardOutput.contains("submitted 1500"))
                let lines = worker.standardError.split(separator: "\n")
                #expect(!lines.isEmpty)
                for line in lines {
                    let json = try JSONParser.parse(Array(line.utf8))
                    #expect(json["level"]?.stringValue != nil && json["msg"]?.stringValue != nil)
                }
                #expect(!worker.standardError.contains("tok-p1") && !worker.standardOutput.contains("tok-p1"))
            }
        }
    }

    /// The worker needs nothing beyond leadsync_worker's grants: a login role that is only
    /// its member drains leads of every kind (accepted, rejected by the API, invalid locally).
    @Test func theWorkerRunsWithTheWorkerRoleOnly() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 300)
                try await f.execute("INSERT INTO leadsync.leads (project_id, phone) VALUES ('p1', 'nope')")
                try await f.execute("INSERT INTO leadsync.leads (project_id, phone) VALUES ('p2', '+14155550001')")
                try await db.withLoginRole(memberOf: "leadsync_worker") { url in
                    let worker = try await WorkerProcess.start(
                        database: url, baseURL: sim.baseURL, tokens: tokens(["p1"]), arguments: ["--once"],
                        asWorkerRole: false)
                    #expect(try await worker.waitForExit() == 0, "\(worker.standardError.suffix(2000))")
                }
                #expect(try await f.states() == ["submitted": 300, "invalid": 1, "held/token_missing": 1])
            }
        }
    }

    @Test func tokensFileReadableByOthersIsRefused() async throws {
        try await TestDatabase.with { db in
            let path = try WorkerProcess.writeTokens(["p1": "tok-secret"])
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            let worker = try ManagedProcess(
                ProductBinary.path("leadsync"), arguments: ["worker", "--once"],
                environment: ["DATABASE_URL": db.url.urlString, "LEADSYNC_TOKENS_FILE": path])
            #expect(try await worker.waitForExit() == 1)
            let lines = worker.standardError.split(separator: "\n")
            #expect(lines.count == 1)
            #expect(lines.first?.contains("chmod 600") == true)
            #expect(!worker.standardError.contains("tok-secret"))
        }
    }

    @Test func plainHTTPToARemoteUservoxIsRefusedInOneLine() async throws {
        let path = try WorkerProcess.writeTokens(["p1": "tok-secret"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Refused before any connection: the database is never reached.
        let worker = try ManagedProcess(
            ProductBinary.path("leadsync"), arguments: ["worker", "--once"],
            environment: [
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LEADSYNC_TOKENS_FILE": path,
                "USERVOX_BASE_URL": "http://crm.example.com",
            ])
        #expect(try await worker.waitForExit() == 1)
        let lines = worker.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(worker.standardError)")
        #expect(lines.first?.hasPrefix("leadsync: USERVOX_BASE_URL is http:// to crm.example.com") == true)
    }

    @Test func allowInsecureUservoxWarnsAtStart() async throws {
        let path = try WorkerProcess.writeTokens(["p1": "tok-secret"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Past the URL check it stops at the unreachable database; the warning came first.
        let worker = try ManagedProcess(
            ProductBinary.path("leadsync"), arguments: ["worker", "--once", "--allow-insecure-uservox"],
            environment: [
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LEADSYNC_TOKENS_FILE": path,
                "USERVOX_BASE_URL": "http://crm.example.com",
            ])
        #expect(try await worker.waitForExit() == 1)
        let lines = worker.standardError.split(separator: "\n")
        #expect(lines.count == 2, "\(worker.standardError)")
        #expect(lines.first?.contains("warning leadsync.worker: USERVOX_BASE_URL is http://") == true)
        #expect(lines.last?.hasPrefix("leadsync: cannot connect to") == true)
        #expect(!worker.standardError.contains("tok-secret"))
    }

    @Test func metricsAndHealth() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                let port = try PrivateServer.freePort()
                // Inserted first: the worker's first sweep sets the pending gauge before sending.
                try await f.insert(project: "p1", count: 120)
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]),
                    arguments: ["--metrics-port", "\(port)"])
                try await f.waitUntilNothingPending(worker)
                let http = HTTPClient(eventLoopGroupProvider: .singleton)
                func get(_ path: String) async throws -> (Int, String) {
                    let response = try await http.execute(
                        HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(5))
                    let body = try await response.body.collect(upTo: 1 << 20)
                    return (Int(response.status.code), String(buffer: body))
                }
                do {
                    try await waitUntil("healthy") { (try? await get("/healthz"))?.0 == 200 }
                    try await waitUntil("metrics counted") {
                        let text = (try? await get("/metrics"))?.1 ?? ""
                        return text.contains(#"leadsync_leads_total{project="p1",state="submitted"} 120"#)
                    }
                    let (_, text) = try await get("/metrics")
                    #expect(text.contains(#"leadsync_requests_total{project="p1",outcome="ok"}"#))
                    #expect(text.contains("leadsync_request_duration_seconds_bucket"))
                    #expect(text.contains(#"leadsync_pending_leads{project="p1"}"#))
                    #expect(text.contains(#"leadsync_oldest_pending_age_seconds{project="p1"}"#))
                    try await http.shutdown()
                } catch {
                    try? await http.shutdown()
                    throw error
                }
                worker.signal(SIGTERM)
                let status = try await worker.waitForExit()
                #expect(status == 0, "\(worker.standardError.suffix(2000))")
            }
        }
    }

    /// Project p1 with 2,000 leads, drained in small batches one request at a time, so a
    /// test has time to act on PostgreSQL while requests are out.
    func drainingP1(on server: PrivateServer) async throws -> (TestDatabase, Fixture) {
        let db = TestDatabase(url: server.url, logger: TestDatabase.logger)
        let f = Fixture(db: db)
        try await f.execute(
            "INSERT INTO leadsync.projects (project_id, max_batch_size, max_in_flight) VALUES ('p1', 50, 1)")
        try await f.insert(project: "p1", count: 2000)
        return (db, f)
    }

    @Test func survivesAPostgreSQLRestart() async throws {
        try await PrivateServer.withMigrated { server in
            var config = SimulatorConfiguration.projects(["p1"])
            config.faults.latency = .milliseconds(30)
            try await UservoxSimulator.withRunning(config) { sim in
                let (db, f) = try await drainingP1(on: server)
                // In-process: the database's restart is what is under test, not the process.
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1"])) { _ in
                    try await waitUntil("some leads submitted") {
                        (sim.simulator.stats().projects["p1"]?.accepted ?? 0) >= 200
                    }
                    try await server.stop()
                    try await server.start()
                    try await f.waitUntilNothingPending(timeout: .seconds(90))
                }
                #expect(try await f.states() == ["submitted": 2000])
                let stats = try #require(sim.simulator.stats().projects["p1"])
                #expect(stats.accepted == 2000)
                #expect(stats.resentAfterFinal == 0)
            }
        }
    }

    /// An operator stops PostgreSQL, then the worker: SIGTERM still ends it, within a bound
    /// (the lease), whatever its lanes and the LISTEN session were waiting for.
    @Test func sigtermEndsTheWorkerWhilePostgreSQLIsDown() async throws {
        try await PrivateServer.withMigrated { server in
            var config = SimulatorConfiguration.projects(["p1"])
            config.faults.latency = .milliseconds(30)
            try await UservoxSimulator.withRunning(config) { sim in
                let (db, _) = try await drainingP1(on: server)
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]))
                try await waitUntil("some leads submitted") {
                    if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                    return (sim.simulator.stats().projects["p1"]?.accepted ?? 0) >= 200
                }
                try await server.stop()
                worker.signal(SIGTERM)
                let status = try await worker.waitForExit(timeout: .seconds(60))
                // Within the lease (the write-back of a request out is tried that long), and
                // the log says which attempt the next worker's sweep recovers.
                _ = status
                let log = worker.standardError
                #expect(
                    log.contains("the sweep recovers the attempt") || !log.contains("write-back failed"),
                    "\(log.suffix(2000))")
                try await server.start()
            }
        }
    }
}
