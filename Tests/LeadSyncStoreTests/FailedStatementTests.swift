import Foundation
import LeadSyncTesting
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import LeadSyncStore

/// A statement that fails after PostgreSQL began its answer (a unique violation in a
/// data-modifying part, an array too large for a row) gives its pooled connection back:
/// the next call on a pool of one is answered (docs/operating.md §23).
@Suite struct FailedStatementTests {
    let logger = TestDatabase.logger

    @Test func aStatementFailingAfterItsAnswerBeganGivesItsConnectionBack() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 1) { client in
                let store = LeadStore(client: client, logger: logger)
                let id = try await client.query(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('acme', '+14155550001') RETURNING id",
                    logger: logger
                ).collect().first?.decode(Int64.self)
                let leadId = try #require(id)
                try await db.withProjectLocked("acme") { lock async throws in
                    #expect(
                        try await store.refusedPhones(project: "acme", keys: ["14155550001"], leadIds: [leadId]) == [])
                    // The leak needs PostgreSQL's error to be read before the caller attaches to
                    // the rows; busy threads make that likely within a few hundred calls.
                    try await whileBusy(threads: 3) {
                        for round in 0..<400 {
                            let record = try await store.startAttempt(
                                project: "acme", workerId: "w1", leadIds: [leadId], lease: .seconds(45), lock: lock,
                                phones: (["14155550001"], [leadId]))
                            #expect(record == .phoneHeld)
                            let answered = try await withDeadline(.seconds(5)) {
                                try await store.rows("SELECT 1" as PostgresQuery).count
                            }
                            try #require(answered == 1, "call \(round) after a failed attempt got no connection")
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` while `threads` threads spin: the caller's threads get preempted.
    private func whileBusy<T: Sendable>(threads: Int, _ body: () async throws -> T) async throws -> T {
        let flag = StopFlag()
        for _ in 0..<threads {
            Thread { while !flag.stop.load(ordering: .relaxed) {} }.start()
        }
        defer { flag.stop.store(true, ordering: .relaxed) }
        return try await body()
    }

    /// `call`'s result, or nil when it is still running after `limit`.
    private func withDeadline<T: Sendable>(_ limit: Duration, _ call: @escaping @Sendable () async throws -> T)
        async throws -> T?
    {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await call() }
            group.addTask {
                try await Task.sleep(for: limit)
                return .none
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}

private final class StopFlag: Sendable {
    let stop = Atomic(false)
}
