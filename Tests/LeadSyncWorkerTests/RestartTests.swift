import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator

/// docs/operating.md: every wait on the database is bounded, so however PostgreSQL goes
/// away the worker resumes. A private server is restarted (`pg_ctl stop -m fast`, start)
/// twenty times, each time while the worker drains 600 fresh leads over two projects
/// (200 ms upstream latency, batches of 100), at a varying moment of the requests' lives
/// (before send, during the upstream call, during the write-back); after each restart
/// every lead must be submitted within a deadline, none sent twice.
@Suite(.serialized) struct RestartTests {
    @Test func resumesAfterEachOfTwentyRestarts() async throws {
        try await PrivateServer.withMigrated { server in
            var config = SimulatorConfiguration.projects(["p1", "p2"])
            config.faults.latency = .milliseconds(200)
            try await UservoxSimulator.withRunning(config) { sim in
                let db = TestDatabase(url: server.url, logger: TestDatabase.logger)
                let f = Fixture(db: db)
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, max_batch_size) VALUES ('p1', 100), ('p2', 100)")
                @Sendable func accepted() -> Int { sim.simulator.stats().totals.accepted }
                // In-process: the database's restarts are what is under test, not the process.
                try await withInProcessWorker(
                    db: db, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"]),
                    configuration: testWorkerConfiguration(requestTimeout: .seconds(2), lease: .seconds(4))
                ) { _ in
                    var generator = SystemRandomNumberGenerator()
                    for round in 1...20 {
                        // 300 leads per project: three requests each, 200 ms apiece.
                        let before = accepted()
                        try await f.insert(project: "p1", count: 300, from: round * 1000)
                        try await f.insert(project: "p2", count: 300, from: 100_000 + round * 1000)
                        try await waitUntil("round \(round): the first answers", timeout: .seconds(45)) {
                            accepted() > before
                        }
                        // A different moment of the requests' lives each round: in the air,
                        // answered, being written back.
                        try await Task.sleep(for: .milliseconds(Int.random(in: 0...200, using: &generator)))
                        try await server.stop()
                        try await server.start()
                        try await f.waitUntilNothingPending(timeout: .seconds(45))
                        #expect(accepted() == round * 600, "round \(round)")
                    }
                }
                #expect(try await f.states() == ["submitted": 12_000])
                let stats = sim.simulator.stats()
                #expect(stats.totals.accepted == 12_000)
                #expect(stats.totals.resentAfterFinal == 0)
            }
        }
    }
}
