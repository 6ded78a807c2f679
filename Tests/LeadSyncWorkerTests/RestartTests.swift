import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator

/// docs/operating.md: every wait on the database is bounded, so however PostgreSQL goes
/// away the worker resumes. A private server is restarted (`pg_ctl stop -m fast`, start)
/// twenty times under a worker draining two projects, at varying moments of a request's
/// life (before send, during the 200 ms upstream call, during the write-back); after
/// each restart the worker must submit more leads within a deadline.
@Suite(.serialized) struct RestartTests {
    @Test func resumesAfterEachOfTwentyRestarts() async throws {
        let server = try await PrivateServer()
        do {
            try await server.url.withConnection(logger: TestDatabase.logger) { c in
                try await Migrator(logger: TestDatabase.logger).migrate(on: c)
            }
            var config = SimulatorConfiguration.projects(["p1", "p2"])
            config.faults.latency = .milliseconds(200)
            try await UservoxSimulator.withRunning(config) { sim in
                let db = TestDatabase(url: server.url, logger: TestDatabase.logger)
                let f = Fixture(db: db)
                try await f.execute(
                    """
                    INSERT INTO leadsync.projects (project_id, max_batch_size, max_in_flight)
                    VALUES ('p1', 20, 1), ('p2', 20, 1)
                    """)
                try await f.insert(project: "p1", count: 3000)
                try await f.insert(project: "p2", count: 3000, from: 10_000)
                let worker = try WorkerProcess.start(
                    database: server.url, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"]), requestTimeout: 2,
                    lease: 4)
                func accepted() -> Int { sim.simulator.stats().totals.accepted }
                var generator = SystemRandomNumberGenerator()
                for round in 1...20 {
                    let before = accepted()
                    try await waitUntil("round \(round): the worker submits again", timeout: .seconds(45)) {
                        if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                        return accepted() >= before + 40
                    }
                    // A different moment of the 200 ms request each round.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...250, using: &generator)))
                    try await server.stop()
                    try await server.start()
                }
                try await f.waitUntilNothingPending(timeout: .seconds(120), worker)
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
                #expect(try await f.states() == ["submitted": 6000])
                let stats = sim.simulator.stats()
                #expect(stats.totals.accepted == 6000)
                #expect(stats.totals.resentAfterFinal == 0)
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
