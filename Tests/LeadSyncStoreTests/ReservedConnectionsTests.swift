import LeadSyncTesting
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import LeadSyncStore

/// docs/operating.md §22: a latency-sensitive call waits behind one call on the reserved
/// connection rather than go to a shared pool a backlog may hold for long; a third goes to
/// the pool. The connections are held by advisory locks this test takes; nothing is timed.
@Suite struct ReservedConnectionsTests {
    let logger = TestDatabase.logger

    /// Runs `body` with a store whose pool and reserved pool have one connection each.
    func withStore<T: Sendable>(
        _ db: TestDatabase, _ body: (LeadStore, PostgresConnection) async throws -> T
    ) async throws -> T {
        try await db.withClient(maximumConnections: 1) { pool in
            try await db.withClient(maximumConnections: 1) { reserved in
                let store = LeadStore(client: pool, logger: logger, reserved: (client: reserved, connections: 1))
                return try await db.withConnection { locker in try await body(store, locker) }
            }
        }
    }

    /// A call on `store` that waits until advisory lock `key` is free, counting in
    /// `progress` when it has its store (1) and when it is done (2).
    func gated(_ store: LeadStore, urgent: Bool, key: Int64, progress: Progress? = nil) async throws -> Int {
        try await store.reserving(urgent) { s in
            progress?.value.store(1, ordering: .relaxed)
            _ = try await s.rows("SELECT pg_advisory_lock_shared(\(key)), pg_advisory_unlock_shared(\(key))")
            progress?.value.store(2, ordering: .relaxed)
            return 1
        }
    }

    /// Runs `body` holding advisory locks `keys` on `locker`; on the way out, also when it
    /// fails, lets every call waiting on them go, so the test never hangs.
    func holding(
        _ keys: [Int64], on locker: PostgresConnection,
        _ body: (inout ThrowingTaskGroup<Int, any Error>) async throws -> Void
    ) async throws {
        for key in keys { _ = try await locker.query("SELECT pg_advisory_lock(\(key))", logger: logger).collect() }
        try await withThrowingTaskGroup(of: Int.self) { group in
            do {
                try await body(&group)
            } catch {
                _ = try? await locker.query("SELECT pg_advisory_unlock_all()", logger: logger).collect()
                throw error
            }
            _ = try await locker.query("SELECT pg_advisory_unlock_all()", logger: logger).collect()
            while try await group.next() != nil {}
        }
    }

    func waitingOnLock(_ locker: PostgresConnection, count: Int) async throws {
        try await waitUntil("\(count) calls wait on an advisory lock") {
            let rows = try await locker.query(
                """
                SELECT count(*)::int8 FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'
                """, logger: logger
            ).collect()
            return try rows.first?.decode(Int.self) == count
        }
    }

    @Test func aCallWaitsBehindOneOnTheReservedConnectionNotBehindTheBlockedPool() async throws {
        try await TestDatabase.with { db in
            try await withStore(db) { store, locker in
                try await holding([1, 2], on: locker) { group in
                    // The backlog: the pool's only connection, blocked.
                    group.addTask { try await gated(store, urgent: false, key: 1) }
                    // A latency-sensitive call on the reserved connection, held for now.
                    group.addTask { try await gated(store, urgent: true, key: 2) }
                    try await waitingOnLock(locker, count: 2)
                    // A second one: it has its store at once, and its query waits.
                    let second = Progress()
                    group.addTask { try await gated(store, urgent: true, key: 3, progress: second) }
                    try await waitUntil("the second call has its store") { second.value.load(ordering: .relaxed) >= 1 }
                    _ = try await locker.query("SELECT pg_advisory_unlock(2)", logger: logger).collect()
                    // Done while the pool stays blocked: it ran on the reserved connection.
                    try await waitUntil("the second call ends while the pool is blocked", timeout: .seconds(10)) {
                        second.value.load(ordering: .relaxed) == 2
                    }
                }
            }
        }
    }

    @Test func aThirdCallGoesToThePoolInsteadOfQueueingOnTheReservedConnection() async throws {
        try await TestDatabase.with { db in
            try await withStore(db) { store, locker in
                try await holding([2], on: locker) { group in
                    // One call on the reserved connection, held, and one waiting behind it.
                    group.addTask { try await gated(store, urgent: true, key: 2) }
                    try await waitingOnLock(locker, count: 1)
                    let second = Progress()
                    group.addTask { try await gated(store, urgent: true, key: 2, progress: second) }
                    try await waitUntil("the second call has its store") { second.value.load(ordering: .relaxed) >= 1 }
                    // The third runs on the free pool while both wait.
                    let third = Progress()
                    group.addTask { try await gated(store, urgent: true, key: 3, progress: third) }
                    try await waitUntil("the third call ends on the pool", timeout: .seconds(10)) {
                        third.value.load(ordering: .relaxed) == 2
                    }
                }
            }
        }
    }
}

/// How far a gated call has come.
final class Progress: Sendable {
    let value = Atomic(0)
}
