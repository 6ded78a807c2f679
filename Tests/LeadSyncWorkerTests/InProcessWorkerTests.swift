import LeadSyncStore
import LeadSyncTesting
import LeadSyncWorker
import Testing
import UservoxSimulator

/// `LeadSyncWorker.Worker` run in this process, as the CLI runs it: the same services,
/// debuggable, no binary to build. Signals and exit codes stay with the process tests.
@Suite struct InProcessWorkerTests {
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
}
