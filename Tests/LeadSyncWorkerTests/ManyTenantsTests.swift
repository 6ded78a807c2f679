import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Synchronization
import Testing
import UservoxSimulator

@testable import LeadSyncWorker

/// Many tenants (docs/operating.md §21): a worker serves at most `--max-lanes` projects at
/// once and never more than half the server's lock table, where every served project's
/// advisory lock lives; every lead is still sent once.
@Suite(.serialized)
struct ManyTenantsTests {
    @Test func theCapIsHalfTheLockTableOrMaxLanesWhicheverIsLower() {
        let small = LaneBudget.LockTable(maxLocksPerTransaction: 10, maxConnections: 20, maxPreparedTransactions: 0)
        let budget = LaneBudget(configured: 1000, table: small)
        #expect(budget.maxLanes == 100)
        #expect(budget.limitedByServer)
        #expect(budget.summary.contains("serving at most 100 projects at once, fewer than --max-lanes 1000"))
        #expect(budget.summary.contains("max_locks_per_transaction 10"))
        #expect(!budget.summary.contains("\n"))

        let defaults = LaneBudget.LockTable(maxLocksPerTransaction: 64, maxConnections: 100, maxPreparedTransactions: 0)
        #expect(LaneBudget(configured: 1000, table: defaults).maxLanes == 1000)
        #expect(!LaneBudget(configured: 1000, table: defaults).limitedByServer)
        #expect(LaneBudget(configured: 0, table: nil).maxLanes == 1)

        // Lanes start up to the cap; idle ones linger only while few run and no project
        // waits for their place (one waiting below the cap gets a lane of its own).
        #expect(budget.toStart(served: 90, waiting: 50) == 10)
        #expect(budget.toStart(served: 100, waiting: 50) == 0)
        #expect(budget.mayLinger(served: 10, waiting: 0))
        #expect(budget.mayLinger(served: 10, waiting: 1))
        #expect(!budget.mayLinger(served: LaneBudget.maxLingering + 1, waiting: 0))
        let eight = LaneBudget(configured: 8, table: nil)
        #expect(eight.mayLinger(served: 8, waiting: 0))
        #expect(eight.mayLinger(served: 7, waiting: 1))
        #expect(!eight.mayLinger(served: 8, waiting: 1))
    }

    /// At the cap, with more projects waiting than there is room for, lanes that end make
    /// room a few at a time: the dispatcher takes it up once it holds a few lanes' worth
    /// (`fewest`, one statement for them all), at once for a project a notification named,
    /// and on every sweep; below the cap, or with room for all that wait, at once.
    @Test func roomAtTheCapIsTakenUpSeveralLanesAtATime() {
        let budget = LaneBudget(configured: 1000, table: nil)
        #expect(budget.fewest == 32)
        #expect(budget.toStart(served: 999, waiting: 5000, sweep: false) == 0)
        #expect(budget.toStart(served: 968, waiting: 5000, sweep: false) == 32)
        #expect(budget.toStart(served: 999, waiting: 5000, notified: true, sweep: false) == 1)
        #expect(budget.toStart(served: 999, waiting: 5000, sweep: true) == 1)
        #expect(budget.toStart(served: 999, waiting: 1, sweep: false) == 1)
        #expect(budget.toStart(served: 10, waiting: 5000, sweep: false) == 990)
        // A small cap starts each lane at once.
        #expect(LaneBudget(configured: 8, table: nil).toStart(served: 7, waiting: 50, sweep: false) == 1)

        var queue = ReadyQueue()
        queue.replace(with: ["a", "b"], skipping: { _ in false })
        #expect(!queue.hasNotified)
        queue.pushFront("z")
        #expect(queue.hasNotified)
        #expect(queue.take(1, skipping: { _ in false }) == ["z"])
        #expect(!queue.hasNotified)
        queue.pushFront("y")
        queue.replace(with: ["a"], skipping: { _ in false })
        #expect(!queue.hasNotified)
    }

    @Test func theReadyQueueKeepsEachProjectOnceAndNotifiedOnesFirst() {
        var queue = ReadyQueue()
        queue.replace(with: ["a", "b", "c", "b"], skipping: { $0 == "c" })
        #expect(queue.count == 2)
        queue.pushFront("z")
        queue.pushFront("a")
        #expect(queue.take(2, skipping: { _ in false }) == ["z", "a"])
        #expect(queue.take(5, skipping: { $0 == "b" }) == [])
        #expect(queue.isEmpty)
    }

    /// A server whose lock table has 200 entries (10 × (20 + 0)): the worker says in one line
    /// that it serves at most 100 projects at once, never holds more locks than that while
    /// 120 projects drain, and sends every lead once.
    @Test func aSmallLockTableCapsTheProjectsServedAtOnce() async throws {
        try await PrivateServer.withMigrated { server in
            let db = TestDatabase(url: server.url, logger: TestDatabase.logger)
            let f = Fixture(db: db)
            try await f.execute("ALTER SYSTEM SET max_locks_per_transaction = 10")
            try await f.execute("ALTER SYSTEM SET max_connections = 20")
            try await server.stop()
            try await server.start()
            #expect(try await f.int("SELECT current_setting('max_locks_per_transaction')::int8") == 10)

            let projects = (1...120).map { "t\($0)" }
            try await UservoxSimulator.withRunning(.projects(projects)) { sim in
                try await Self.insert(f, projects, each: 2)
                let worker = try await WorkerProcess.start(
                    database: server.url, baseURL: sim.baseURL, tokens: tokens(projects))
                let peak = try await Self.drainWatchingLocks(f, worker)
                #expect(peak <= 100, "advisory locks held at once: \(peak)")
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
                #expect(
                    worker.standardError.contains("serving at most 100 projects at once, fewer than --max-lanes 1000"),
                    "\(worker.standardError.prefix(2000))")
                #expect(try await f.states() == ["submitted": 240])
                let stats = sim.simulator.stats()
                #expect(stats.totals.accepted == 240)
                #expect(stats.totals.resentAfterFinal == 0)
            }
        }
    }

    /// `--max-lanes 20` with 300 projects of 3 leads: at most 20 locks at any time, each lead
    /// sent once, and lanes that caught up give their places to waiting projects.
    @Test func manyProjectsDrainThroughFewLanesWithEveryLeadSentOnce() async throws {
        try await TestDatabase.with { db in
            let f = Fixture(db: db)
            let projects = (1...300).map { "m\($0)" }
            try await UservoxSimulator.withRunning(.projects(projects)) { sim in
                try await Self.insert(f, projects, each: 3)
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(projects), arguments: ["--max-lanes", "20"])
                let peak = try await Self.drainWatchingLocks(f, worker, database: db.url.database)
                #expect(peak <= 20, "advisory locks held at once: \(peak)")
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0)
                #expect(worker.standardError.contains("serving at most 20 projects at once (--max-lanes"))
                try await Self.expectEachSentOnce(f, sim, leads: 900, requests: 300)
            }
        }
    }

    /// A project with a few leads costs two looks at its arrival rows (the claim, and the
    /// last scan before the lane ends), not four: a lane that saw everything and was not
    /// notified since does not look again (`CaughtUpWatch`, docs/operating.md §21). Counted
    /// as the table's scans once the worker's sessions have ended (each look deletes done
    /// rows and reads the rest: two index scans); every lead is still sent once.
    @Test func aFewLeadsCostTwoLooksAtTheArrivalRows() async throws {
        try await TestDatabase.with { db in
            let f = Fixture(db: db)
            let projects = (1...40).map { "s\($0)" }
            try await UservoxSimulator.withRunning(.projects(projects)) { sim in
                try await Self.insert(f, projects, each: 2)
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(projects), arguments: ["--once"])
                #expect(try await worker.waitForExit() == 0, "\(worker.standardError.suffix(2000))")
                // A session's counts reach the statistics when it ends.
                try await Self.workerSessionsEnded(f)
                let scans = try await f.int(
                    """
                    SELECT (coalesce(idx_scan, 0) + coalesce(seq_scan, 0))::int8 FROM pg_stat_user_tables
                    WHERE relid = 'leadsync.arrivals'::regclass
                    """)
                // About three per project (and the dispatcher's few sweeps); five with a look
                // after every claim.
                #expect(scans <= 4 * projects.count, "arrival scans: \(scans) for \(projects.count) projects")
                try await Self.expectEachSentOnce(f, sim, leads: 80, requests: 40)
            }
        }
    }

    /// A project with a few leads costs about three statements of the worker (its share of
    /// the lane starts the dispatcher reads together, with the arrival rows and the leads
    /// inside them; the attempt, which claims the phones and deletes the arrival rows it
    /// finishes; the write-back; its share of the lock exchange), not nine: the first claim
    /// takes the arrival rows and leads the start read, and the look before idling asks
    /// nothing when nothing arrived since and no arrival row is left (docs/operating.md §21).
    /// Counted as the database's transactions (each statement of the worker is one) once
    /// the worker's sessions have ended; every lead is still sent once.
    @Test func aFewLeadsCostAboutThreeStatements() async throws {
        try await TestDatabase.with { db in
            let f = Fixture(db: db)
            let projects = (1...100).map { "r\($0)" }
            try await UservoxSimulator.withRunning(.projects(projects)) { sim in
                try await Self.insert(f, projects, each: 2)
                let transactions = """
                    SELECT (xact_commit + xact_rollback)::int8 FROM pg_stat_database WHERE datname = current_database()
                    """
                // A session's counts reach the statistics as it ends: the inserts' first.
                try await waitUntil("the inserts' sessions ended", timeout: .seconds(30)) {
                    try await f.int(
                        "SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ) == 0
                }
                let before = try await f.int(PostgresQuery(unsafeSQL: transactions))
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(projects), arguments: ["--once"])
                #expect(try await worker.waitForExit() == 0, "\(worker.standardError.suffix(2000))")
                try await Self.workerSessionsEnded(f)
                let statements = try await f.int(PostgresQuery(unsafeSQL: transactions)) - before
                // Per project, with the worker's start and sweeps (about 40): 9.5 before
                // docs/operating.md §21, 7.5 before the start read the first claim, 6.3 before
                // the dispatcher read the starts together, 5.2 before the attempt deleted the
                // arrival rows, 4.1 before it claimed the phones (2.9 now).
                #expect(
                    statements <= 7 * projects.count / 2,
                    "\(statements) transactions for \(projects.count) projects")
                try await Self.expectEachSentOnce(f, sim, leads: 200, requests: 100)
            }
        }
    }

    /// `each` leads for every project, numbered on from the previous project's.
    static func insert(_ f: Fixture, _ projects: [String], each: Int) async throws {
        for (i, project) in projects.enumerated() {
            try await f.insert(project: project, count: each, from: 1 + each * i)
        }
    }

    /// Waits for the worker's sessions to end: a session's counts reach the statistics then.
    static func workerSessionsEnded(_ f: Fixture) async throws {
        try await waitUntil("the worker's sessions ended", timeout: .seconds(30)) {
            try await f.int(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND usename <> current_user"
            ) == 0
        }
    }

    /// Every lead submitted and accepted once, in `requests` requests.
    static func expectEachSentOnce(_ f: Fixture, _ sim: SimulatorEndpoint, leads: Int, requests: Int) async throws {
        #expect(try await f.states() == ["submitted": leads])
        let stats = sim.simulator.stats()
        #expect(stats.totals.accepted == leads)
        #expect(stats.totals.resentAfterFinal == 0)
        #expect(stats.totals.requests == requests)
    }

    /// Waits until no lead is pending, sampling how many of LeadSync's advisory locks are
    /// held (on `database`: tests share a server); returns the most seen.
    static func drainWatchingLocks(_ f: Fixture, _ worker: ManagedProcess, database: String? = nil) async throws
        -> Int
    {
        let peak = Mutex(0)
        try await waitUntil("no lead pending", timeout: .seconds(120), poll: .milliseconds(20)) {
            if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
            let held = try await f.int(
                """
                SELECT count(*)::int8 FROM pg_locks WHERE locktype = 'advisory' AND classid::int8 = \(Int64(ProjectLock.namespace))
                  AND (\(database)::text IS NULL OR database = (SELECT oid FROM pg_database WHERE datname = \(database)::text))
                """)
            peak.withLock { $0 = max($0, held) }
            return try await f.int("SELECT count(*)::int8 FROM leadsync.leads WHERE status = 'pending'") == 0
        }
        // Right after the drain, lanes that caught up linger with their locks.
        let held = try await f.int(
            """
            SELECT count(*)::int8 FROM pg_locks WHERE locktype = 'advisory' AND classid::int8 = \(Int64(ProjectLock.namespace))
              AND (\(database)::text IS NULL OR database = (SELECT oid FROM pg_database WHERE datname = \(database)::text))
            """)
        return peak.withLock { max($0, held) }
    }
}
