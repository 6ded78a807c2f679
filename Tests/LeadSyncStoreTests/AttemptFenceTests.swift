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

    /// Several projects' attempts in one statement (the worker's group commit): each fenced
    /// by its own project's lock, each deleting its own arrival rows and claiming its own
    /// phones only when recorded; a held phone fails the group, recording nothing.
    @Test func attemptsOfSeveralProjectsAreEachFencedByTheirOwnLock() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    VALUES ('acme', '+14155550101'), ('beta', '+14155550102'), ('gamma', '+14155550103')
                    """, logger: logger)
                let arrival = Dictionary(
                    uniqueKeysWithValues: try await client.query(
                        "SELECT project_id, id FROM leadsync.arrivals", logger: logger
                    ).collect().map { try $0.decode((String, Int64).self) })
                func remaining() async throws -> Set<String> {
                    Set(
                        try await client.query("SELECT project_id FROM leadsync.arrivals", logger: logger).collect()
                            .map { try $0.decode(String.self) })
                }
                func claimed() async throws -> [String] {
                    try await client.query(
                        "SELECT project_id || ':' || phone_key FROM leadsync.phone_claims ORDER BY 1", logger: logger
                    ).collect().map { try $0.decode(String.self) }
                }
                func attempts() async throws -> [String] {
                    try await client.query(
                        """
                        SELECT project_id || ':' || lead_count || ':' || array_to_string(lead_ids, ',')
                        FROM leadsync.submission_attempts ORDER BY 1
                        """, logger: logger
                    ).collect().map { try $0.decode(String.self) }
                }
                try await db.withConnection { session in
                    _ = try await session.query(ProjectLock.identify(key: 4242), logger: logger).collect()
                    // acme and gamma are this lock session's; beta is nobody's.
                    for project in ["acme", "gamma"] {
                        _ = try await session.query(ProjectLock.tryLock(project: project), logger: logger).collect()
                    }
                    let lock = ProjectLock(sessionKey: 4242)
                    func attempt(_ project: String, _ leads: [Int64], phone: String) -> LeadStore.NewAttempt {
                        .init(
                            project: project, leadIds: leads, lock: lock, doneArrivals: [arrival[project]!],
                            phones: ([phone], [leads[0]]))
                    }

                    let answers = try await store.startAttempts(
                        [attempt("acme", [1, 2], phone: "k1"), attempt("beta", [3], phone: "k2")],
                        workerId: "w1", lease: .seconds(45))
                    #expect(answers.map { $0.id != nil } == [true, false])
                    #expect(answers[1] == .lockLost)
                    #expect(try await remaining() == ["beta", "gamma"])
                    #expect(try await claimed() == ["acme:k1"])
                    #expect(try await attempts() == ["acme:2:1,2"])

                    // gamma's phone is held already (acme's k1 is acme's, not gamma's: claims
                    // are per project): the group fails whole.
                    try await client.query(
                        "INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id) VALUES ('gamma', 'k3', 99)",
                        logger: logger)
                    await #expect(throws: (any Error).self) {
                        try await store.startAttempts(
                            [attempt("gamma", [5], phone: "k3"), attempt("acme", [6], phone: "k4")],
                            workerId: "w1", lease: .seconds(45))
                    }
                    #expect(try await attempts() == ["acme:2:1,2"])
                    #expect(try await remaining() == ["beta", "gamma"])
                    // Alone, the same attempt says so, as the group commit then records each.
                    let alone = try await store.startAttempts(
                        [attempt("gamma", [5], phone: "k3")], workerId: "w1", lease: .seconds(45))
                    #expect(alone == [.phoneHeld])
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
