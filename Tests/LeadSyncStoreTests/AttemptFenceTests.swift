import LeadSyncTesting
import Logging
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// docs/contract.md §5: a request is recorded (and so may be sent) only while the worker's lock
/// session owns the project.
@Suite struct AttemptFenceTests {
    let logger = TestDatabase.logger

    @Test func anAttemptIsRecordedOnlyWhileTheLockSessionOwnsTheProject() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                try await db.withConnection { session in
                    let lock = ProjectLock(sessionKey: 4242)
                    func start() async throws -> Int64? {
                        try await store.startAttempt(
                            project: "acme", workerId: "w1", leadIds: [1, 2, 3], lease: .seconds(45), lock: lock
                        ).id
                    }
                    func identify(_ key: Int32, on connection: PostgresConnection) async throws -> Bool? {
                        try await connection.query(ProjectLock.identify(key: key), logger: logger).collect().first?
                            .decode(Bool.self)
                    }

                    #expect(try await identify(4242, on: session) == true)
                    #expect(try await start() == nil)
                    let locked = try await session.query(ProjectLock.tryLock(project: "acme"), logger: logger).collect()
                        .first?.decode(Bool.self)
                    #expect(locked == true)
                    let id = try await start()
                    #expect(id != nil)
                    // Another project's lock does not count.
                    #expect(
                        try await store.startAttempt(
                            project: "beta", workerId: "w1", leadIds: [4], lease: .seconds(45), lock: lock) == .lockLost
                    )
                    try await session.query(ProjectLock.unlock(project: "acme"), logger: logger)
                    #expect(try await start() == nil)

                    // The lock session gone (its key free) while another session holds the
                    // project: a worker that lost its lock cannot start a request.
                    try await db.withConnection { other in
                        #expect(try await identify(4242, on: other) == false)
                        try await session.query(
                            "SELECT pg_advisory_unlock(\(ProjectLock.sessionNamespace), 4242)", logger: logger)
                        let taken = try await other.query(ProjectLock.tryLock(project: "acme"), logger: logger)
                            .collect().first?.decode(Bool.self)
                        #expect(taken == true)
                        #expect(try await start() == nil)
                        // Another lock session's key does not count either.
                        #expect(try await identify(4343, on: other) == true)
                        #expect(try await start() == nil)
                    }

                    let row = try await client.query(
                        "SELECT lead_count, lead_ids, lease_expires_at > now() FROM leadsync.submission_attempts WHERE id = \(id ?? 0)",
                        logger: logger
                    ).collect().first?.decode((Int, [Int64], Bool).self)
                    #expect(row?.0 == 3)
                    #expect(row?.1 == [1, 2, 3])
                    #expect(row?.2 == true)
                }
            }
        }
    }

    /// The attempt deletes the arrival rows it is told are done (`ArrivalRanges.done`), of
    /// its project only, and only when it is recorded: a lane that lost its lock deletes nothing.
    @Test func anAttemptDeletesTheArrivalRowsItFinishesOnlyWhenRecorded() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                try await client.query(
                    "INSERT INTO leadsync.leads (project_id, phone) VALUES ('acme', '+14155550101'), ('beta', '+14155550102')",
                    logger: logger)
                func arrivals() async throws -> [String: [Int64]] {
                    var rows: [String: [Int64]] = [:]
                    for try await (project, id) in try await client.query(
                        "SELECT project_id, id FROM leadsync.arrivals ORDER BY id", logger: logger
                    ).decode((String, Int64).self) {
                        rows[project, default: []].append(id)
                    }
                    return rows
                }
                let before = try await arrivals()
                let done = (before["acme"] ?? []) + (before["beta"] ?? [])
                #expect(done.count == 2)
                try await db.withConnection { session in
                    let lock = ProjectLock(sessionKey: 4242)
                    func start() async throws -> Int64? {
                        try await store.startAttempt(
                            project: "acme", workerId: "w1", leadIds: [1], lease: .seconds(45), lock: lock,
                            doneArrivals: done
                        ).id
                    }
                    _ = try await session.query(ProjectLock.identify(key: 4242), logger: logger).collect()
                    #expect(try await start() == nil)
                    #expect(try await arrivals() == before)
                    _ = try await session.query(ProjectLock.tryLock(project: "acme"), logger: logger).collect()
                    #expect(try await start() != nil)
                    #expect(try await arrivals() == ["beta": before["beta"] ?? []])
                }
            }
        }
    }
}

extension LeadStore.AttemptRecord {
    /// The attempt's id when recorded.
    var id: Int64? {
        if case .recorded(let id) = self { return id }
        return nil
    }
}
