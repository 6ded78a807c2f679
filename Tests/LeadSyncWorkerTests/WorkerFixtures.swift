import Foundation
import LeadSyncStore
import LeadSyncTesting
import Logging
import PostgresNIO
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
