import Foundation
import LeadSyncStore
import LeadSyncTesting
import LeadSyncWorker
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing
import UservoxSimulator

/// SQL helpers shared by the worker tests: plain INSERTs, as applications write them.
struct Fixture {
    let db: TestDatabase
    var logger: Logger { db.logger }

    /// `count` leads with distinct valid phones `+1415` + 7 digits starting at `from`.
    func insert(project: String, count: Int, from: Int = 1, process: String? = nil) async throws {
        try await db.withConnection { c in
            try await c.query(
                """
                INSERT INTO leadsync.leads (project_id, phone, process_id)
                SELECT \(project)::text, '+1415' || lpad(i::text, 7, '0'), \(process)::text
                FROM generate_series(\(from), \(from + count - 1)) AS i
                """, logger: logger)
        }
    }

    func execute(_ sql: PostgresQuery) async throws {
        try await db.withConnection { try await $0.query(sql, logger: logger) }
    }

    func int(_ sql: PostgresQuery) async throws -> Int {
        try await db.withConnection { c in
            try await c.query(sql, logger: logger).collect().first?.decode(Int.self) ?? 0
        }
    }

    /// Lead counts by "status" or "status/held_reason".
    func states(project: String? = nil) async throws -> [String: Int] {
        try await db.withConnection { c in
            var result: [String: Int] = [:]
            let rows = try await c.query(
                """
                SELECT status || coalesce('/' || held_reason, ''), count(*)::int8 FROM leadsync.leads
                WHERE \(project)::text IS NULL OR project_id = \(project)::text GROUP BY 1
                """, logger: logger)
            for try await (state, count) in rows.decode((String, Int64).self) { result[state] = Int(count) }
            return result
        }
    }

    func waitUntilNothingPending(timeout: Duration = .seconds(60), _ worker: ManagedProcess? = nil) async throws {
        do {
            try await waitUntil("no lead pending", timeout: timeout, poll: .milliseconds(50)) {
                if let worker, !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                return try await int(
                    "SELECT count(*)::int8 FROM leadsync.leads WHERE status = 'pending'")
                    == 0
            }
        } catch let error as WaitTimedOut {
            let states = try await self.states()
            throw WaitTimedOut(
                description:
                    "\(error.description); states: \(states); worker log: \(worker?.standardError.suffix(3000) ?? "")")
        }
    }
}

struct WorkerDied: Error, CustomStringConvertible {
    let stderr: String
    var description: String { "the worker exited early: \(stderr.suffix(3000))" }
}

extension SimulatorConfiguration {
    static func projects(_ ids: [String], processes: Set<String>? = nil) -> SimulatorConfiguration {
        SimulatorConfiguration(projects: ids.map { .init(id: $0, token: "tok-\($0)", processes: processes) })
    }
}

func tokens(_ ids: [String]) -> [String: String] {
    Dictionary(uniqueKeysWithValues: ids.map { ($0, "tok-\($0)") })
}

/// The worker configuration of the process tests' `WorkerProcess.start` (short time limits,
/// so failure paths finish in seconds), for a worker run in this process.
func testWorkerConfiguration(
    once: Bool = false, requestTimeout: Duration = .seconds(2), lease: Duration = .seconds(3)
) -> WorkerConfiguration {
    WorkerConfiguration(once: once, sweepInterval: .milliseconds(200), requestTimeout: requestTimeout, lease: lease)
}

/// Runs `LeadSyncWorker.Worker` in this process, as the CLI runs it and as the worker's
/// login role, while `body` runs; then shuts it down gracefully, as SIGTERM does, and
/// waits for it: requests in flight finish and are written back. A worker that fails
/// fails the test with its error. Signals and exit codes stay with the process tests.
func withInProcessWorker<T: Sendable>(
    db: TestDatabase, baseURL: String, tokens: [String: String],
    configuration: WorkerConfiguration = testWorkerConfiguration(),
    _ body: @Sendable (Worker) async throws -> T
) async throws -> T {
    let worker = try Worker(
        configuration: configuration, database: try await WorkerProcess.workerRoleURL(db.url), baseURL: baseURL,
        tokensPath: try WorkerProcess.writeTokens(tokens), logger: db.logger)
    let group = ServiceGroup(configuration: .init(services: [worker], logger: db.logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Result<T, any Error>
        do { result = .success(try await body(worker)) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}
