import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import UservoxClient

/// Finds projects with ready work, takes each one's advisory lock on a dedicated session
/// (docs/contract.md §5: one worker per project at a time; a dead worker's session ends and its locks
/// with it), and runs a `ProjectLane` per owned project as a child task. Also the backstop:
/// sweeps periodically, and recovers attempts of dead workers.
public final class Dispatcher: Service, Sendable {
    let database: DatabaseURL
    let store: LeadStore
    let client: UservoxClient
    let tokens: TokenStore
    let wake: WakeSignal
    let configuration: WorkerConfiguration
    let health: WorkerHealth
    public let progress: WorkerProgress
    let logger: Logger

    private let limiters = Mutex<[String: LimiterBox]>([:])
    /// Projects this worker serves now, each with its lane's wake-up, and the projects whose
    /// lanes ended but whose locks the dispatcher has yet to give back (in one round trip
    /// for many: docs/operating.md §21).
    private let roster = Mutex(Roster())
    private struct Roster {
        var lanes: [String: WakeSignal] = [:]
        var ended: [String] = []
    }
    /// Lanes running and projects waiting for one, for `LaneBudget.mayLinger` (read by lanes).
    private let servedCount = Atomic<Int>(0)
    private let waitingCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let slots: RequestSlots
    private let groups = StatementGroups()

    public init(
        database: DatabaseURL, store: LeadStore, client: UservoxClient, tokens: TokenStore, wake: WakeSignal,
        configuration: WorkerConfiguration, health: WorkerHealth, progress: WorkerProgress = WorkerProgress(),
        logger: Logger
    ) {
        self.database = database
        self.store = store
        self.client = client
        self.tokens = tokens
        self.wake = wake
        self.configuration = configuration
        self.health = health
        self.progress = progress
        self.logger = logger
        self.slots = RequestSlots(capacity: configuration.maxConcurrentRequests)
        self.backlogMetrics = configuration.backlogMetricsInterval.map { Cadence(every: $0) }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.serve()
        } onGracefulShutdown: {
            // docs/contract.md §5: stop claiming; in-flight requests finish and are written back.
            self.stopping.store(true, ordering: .relaxed)
            self.wake.wakeAll()
            for signal in self.roster.withLock({ Array($0.lanes.values) }) { signal.wakeAll() }
        }
    }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) || Task.isCancelled }

    private func serve() async throws {
        try await releaseProjectsWithTokens()
        var backoff = Duration.milliseconds(250)
        while !isStopping {
            let session: PostgresConnection
            do {
                // Only advisory locks run here: no planner settings (a session-mode pooler
                // would refuse them as startup parameters).
                session = try await database.connect(logger: logger, settings: [])
            } catch {
                health.setLockSession(false)
                logger.error(
                    "cannot open the lock session; retrying",
                    metadata: [
                        "error": "\(StoreError.from(error, doing: "connect"))",
                        "retry_in_ms": "\(backoff.millisecondsValue)",
                    ])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
                continue
            }
            backoff = .milliseconds(250)
            let finished = try await serve(session: session)
            try? await withTimeout(.seconds(2), "closing the lock session") { try await session.close() }
            if finished { return }
        }
    }

    /// Runs lanes while `session` holds their locks. Returns true when done (`--once`
    /// drained, or stopping), false when the session was lost and must be reopened.
    private func serve(session: PostgresConnection) async throws -> Bool {
        let pid: Int32
        let budget: LaneBudget
        let key: Int32
        do {
            pid =
                try await session.query(ProjectLock.backendPid, logger: logger).collect().first?.decode(Int32.self) ?? 0
            let table = try await session.query(ProjectLock.lockTable, logger: logger).collect().first.map {
                let (locks, connections, prepared) = try $0.decode((Int64, Int64, Int64).self)
                return LaneBudget.LockTable(
                    maxLocksPerTransaction: Int(locks), maxConnections: Int(connections),
                    maxPreparedTransactions: Int(prepared))
            }
            budget = LaneBudget(configured: configuration.maxLanes, table: table)
            key = try await Self.identify(session, logger: logger)
        } catch {
            return false
        }
        // The locks of a lost session died with it.
        roster.withLock { $0.ended = [] }
        let lock = ProjectLock(sessionKey: key)
        let alive = SessionFlag()
        health.setLockSession(true)
        logger.info("worker ready", metadata: ["worker_id": "\(configuration.workerId)"])
        if budget.limitedByServer {
            logger.warning("\(budget.summary)")
        } else {
            logger.info("\(budget.summary)")
        }

        var moved: StoreError?
        // Discarding: a task group keeps every finished child (a lane's task and its memory,
        // ~17 KB) until it is awaited, and lanes end all day: 10,000 projects drained left
        // 140 MB behind (docs/operating.md §21). Lanes catch their own errors.
        let done: Bool = try await withThrowingDiscardingTaskGroup { group in
            var result = false
            var queue = ReadyQueue()
            var lastSweep: ContinuousClock.Instant?
            while true {
                if isStopping {
                    result = true
                    break
                }
                let signalled = wake.take()
                let now = ContinuousClock.now
                // The full sweep (a heartbeat, dead workers' attempts, every ready project)
                // once per sweep interval, or when asked to scan everything; in between the
                // dispatcher only hands notifications on, gives ended lanes' locks back and
                // starts waiting projects.
                let sweepDue = signalled.all || lastSweep.map { now - $0 >= configuration.sweepInterval } ?? true
                if sweepDue {
                    lastSweep = now
                    logger.trace("dispatcher: heartbeat")
                    let heartbeat: Int32?
                    do {
                        heartbeat = try await withTimeout(.seconds(2), "lock session heartbeat") { [logger] in
                            try await session.query(ProjectLock.backendPid, logger: logger).collect().first?.decode(
                                Int32.self)
                        }
                    } catch {
                        logger.error("lost the lock session; lanes stop and the locks are taken again")
                        break
                    }
                    // The same round trip as a bare SELECT 1, and it proves the locks are still
                    // this server session's: behind a transaction-mode pooler the session
                    // changes under the worker, and then nothing it holds is safe.
                    if heartbeat != pid {
                        moved = StoreError(
                            .badArgument,
                            "the lock session moved from PostgreSQL session \(pid) to \(heartbeat.map { "\($0)" } ?? "none"): \(DatabaseSetup.sessionVariable) (or DATABASE_URL) leads to a transaction-mode pooler; the lock session needs a direct connection (README, Behind a connection pooler)"
                        )
                        break
                    }
                    logger.trace("dispatcher: sweep")
                    do {
                        try await sweep(queue: &queue)
                    } catch {
                        logger.error(
                            "sweep failed; retrying", metadata: ["error": "\(StoreError.from(error, doing: "sweep"))"])
                    }
                }
                // A notification wakes only its project's lane; one no lane serves waits first in line.
                for project in signalled.projects {
                    if let signal = roster.withLock({ $0.lanes[project] }) {
                        signal.wake(project: project)
                    } else if configuration.projects?.contains(project) ?? true {
                        queue.pushFront(project)
                    }
                }
                do {
                    try await exchangeLocks(
                        from: &queue, budget: budget, sweep: sweepDue, session: session, lock: lock, alive: alive,
                        group: &group)
                } catch {
                    logger.error(
                        "taking up projects failed; retrying",
                        metadata: ["error": "\(StoreError.from(error, doing: "project locks"))"])
                }
                waitingCount.store(queue.count, ordering: .relaxed)
                let idle = queue.isEmpty && roster.withLock { $0.lanes.isEmpty }
                if idle { health.progressed() }
                if sweepDue && configuration.once && idle {
                    let ready =
                        (try? await configuration.bounded("ready projects") { [store, configuration] in
                            try await store.readyProjects(only: configuration.projects)
                        }) ?? ["?"]
                    if ready.isEmpty {
                        result = true
                        break
                    }
                }
                logger.trace("dispatcher: wait")
                let nextSweep = (lastSweep ?? now) + configuration.sweepInterval
                await wake.wait(timeout: max(.zero, nextSweep - ContinuousClock.now))
            }
            alive.set(false)
            health.setLockSession(false)
            for signal in roster.withLock({ Array($0.lanes.values) }) { signal.wakeAll() }
            // The group waits for the lanes, which finish their requests first.
            return result
        }
        if let moved { throw moved }
        return done
    }

    /// Takes a key no other session holds, kept while the session lives: a lane's attempt is
    /// recorded only while it is held (`InsertFenced`, docs/operating.md §5).
    private static func identify(_ session: PostgresConnection, logger: Logger) async throws -> Int32 {
        for _ in 0..<100 {
            let key = Int32.random(in: 1...Int32.max)
            let taken = try await session.query(ProjectLock.identify(key: key), logger: logger).collect().first?
                .decode(Bool.self)
            if taken == true { return key }
        }
        throw StoreError(.badArgument, "no free key for the lock session after 100 tries")
    }

    /// The chores of the full sweep, then every ready project no lane serves, in line.
    private func sweep(queue: inout ReadyQueue) async throws {
        try await refreshBacklogMetrics()
        try await compactLeadCountsIfDue()
        logger.trace("dispatcher: abandon expired")
        for (attempt, project, leads) in try await configuration.bounded(
            "abandoning expired attempts",
            { [store] in
                try await store.abandonExpiredAttempts()
            })
        {
            logger.warning(
                "recovered an attempt of a dead worker; its leads are pending again, flagged ambiguous",
                metadata: ["attempt": "\(attempt)", "project": "\(project)", "leads": "\(leads)"])
        }
        guard !isStopping else { return }
        logger.trace("dispatcher: ready projects")
        // Without the served list: sent along, each of its ids is compared with every
        // project's (10,000 × 10,000 with many tenants); the lanes are left out here instead.
        let ready = try await configuration.bounded("ready projects") { [store, configuration] in
            try await store.readyProjects(only: configuration.projects)
        }
        queue.replace(with: ready, skipping: isServed)
    }

    /// The most lane starts read in one statement: a lane waits for its chunk's.
    static let startsRead = 64

    private func isServed(_ project: String) -> Bool { roster.withLock { $0.lanes[project] != nil } }

    /// Gives the locks of lanes that ended back and takes those of as many waiting projects
    /// as the budget allows, in one round trip (docs/operating.md §21), and runs a lane for
    /// each project locked (another worker has the others). While projects wait for room
    /// that is not yet worth taking (`LaneBudget.toStart`), the ended lanes' locks wait too,
    /// to go back in the same round trip.
    private func exchangeLocks(
        from queue: inout ReadyQueue, budget: LaneBudget, sweep: Bool, session: PostgresConnection,
        lock: ProjectLock, alive: SessionFlag, group: inout ThrowingDiscardingTaskGroup<any Error>
    ) async throws {
        let ended = roster.withLock { roster in
            defer { roster.ended = [] }
            return roster.ended
        }
        // A lost session's locks died with it.
        let giveBack = alive.value ? ended : []
        var batch: [String] = []
        if !queue.isEmpty && !isStopping {
            // Locks of ended lanes not given back by this call count too: the cap is on locks held.
            let held = roster.withLock { $0.lanes.count + $0.ended.count }
            let count = budget.toStart(served: held, waiting: queue.count, notified: queue.hasNotified, sweep: sweep)
            if count == 0 && !giveBack.isEmpty {
                roster.withLock { $0.ended.append(contentsOf: giveBack) }
                return
            }
            batch = queue.take(count, skipping: isServed)
        }
        guard !giveBack.isEmpty || !batch.isEmpty else { return }
        let locked: Set<String>
        do {
            locked = try await withTimeout(.seconds(2), "project locks") { [logger, batch] in
                var locked = Set<String>()
                for try await (taken, project) in try await session.query(
                    ProjectLock.exchange(giveBack: giveBack, take: batch), logger: logger
                ).decode((Bool, String).self) where taken {
                    locked.insert(project)
                }
                return locked
            }
        } catch {
            // Still held: given back on the next pass (or with the session).
            roster.withLock { $0.ended.append(contentsOf: giveBack) }
            throw error
        }
        let starting = batch.filter(locked.contains)
        // Their starts in one round trip a chunk, not one each (docs/operating.md §21), each
        // chunk's lanes running before the next is read; a lane whose start is not read (an
        // error, its project gone) reads its own.
        var readTogether = true
        for low in stride(from: 0, to: starting.count, by: Self.startsRead) {
            let chunk = Array(starting[low..<min(low + Self.startsRead, starting.count)])
            var starts: [String: LaneStart] = [:]
            if readTogether && !isStopping {
                do {
                    starts = try await configuration.bounded("lane starts") { [store] in
                        // Latency-sensitive, as a lane's own start: one may start for one fresh lead.
                        try await store.reserving(true) { store in try await ProjectLane.starts(chunk, store: store) }
                    }
                } catch {
                    logger.debug("lane starts not read together", metadata: ["error": "\(error)"])
                    readTogether = false
                }
            }
            startLanes(chunk, starts: starts, budget: budget, lock: lock, alive: alive, group: &group)
        }
    }

    /// Runs a lane for each of `projects`, locked, with its start when read.
    private func startLanes(
        _ projects: [String], starts: [String: LaneStart], budget: LaneBudget, lock: ProjectLock, alive: SessionFlag,
        group: inout ThrowingDiscardingTaskGroup<any Error>
    ) {
        for project in projects {
            let laneWake = WakeSignal()
            roster.withLock { $0.lanes[project] = laneWake }
            servedCount.add(1, ordering: .relaxed)
            wake.route(project, to: laneWake)
            let lane = ProjectLane(
                project: project, store: store, client: client, tokens: tokens, limiter: limiter(for: project),
                lock: lock, configuration: configuration, progress: progress, wake: laneWake, slots: slots,
                groups: groups, health: health, logger: logger,
                mayStart: { [self] in alive.value && !self.isStopping },
                mayLinger: { [self] in
                    budget.mayLinger(
                        served: servedCount.load(ordering: .relaxed), waiting: waitingCount.load(ordering: .relaxed))
                }, start: starts[project])
            // A lane started for a backlog runs off NIO's event loops (`BacklogExecutor`).
            let executor =
                LaneStateMachine<ContinuousClock.Instant>.startsWithBacklog(starts[project]?.ready)
                ? BacklogExecutor.shared : nil
            group.addTask(executorPreference: executor) { [self] in
                defer {
                    // Its lock is given back by the dispatcher, with those of other lanes
                    // that ended meanwhile; a lost session's died with it.
                    roster.withLock { roster in
                        roster.lanes[project] = nil
                        if alive.value { roster.ended.append(project) }
                    }
                    servedCount.subtract(1, ordering: .relaxed)
                    wake.route(project, to: nil)
                    wake.poke()
                }
                do {
                    let exit = try await BacklogExecutor.$current.withValue(executor) { try await lane.run() }
                    logger.debug("lane ended", metadata: ["project": "\(project)", "exit": "\(exit)"])
                } catch {
                    // Stopping, nothing restarts it: its attempts out are the next worker's sweep's.
                    let next = isStopping ? "the worker is stopping" : "it restarts on the next sweep"
                    logger.error(
                        "project lane failed; \(next)",
                        metadata: ["project": "\(project)", "error": "\(StoreError.from(error, doing: "lane"))"])
                }
            }
        }
    }

    private let compaction = Cadence(every: .seconds(10))

    /// Every 10 s: `lead_counts` gains rows with every statement on `leads`; folding them
    /// keeps `leadsync report` instant however big the table.
    private func compactLeadCountsIfDue() async throws {
        if compaction.isDue() {
            try await configuration.bounded("compacting lead counts") { [store] in try await store.compactLeadCounts() }
        }
    }

    private let backlogMetrics: Cadence?

    /// The pending gauge and oldest pending age, now and then (a scan of the pending index).
    private func refreshBacklogMetrics() async throws {
        guard backlogMetrics?.isDue() == true else { return }
        WorkerMetrics.backlog(try await configuration.bounded("backlog", { [store] in try await store.backlog() }))
    }

    private func limiter(for project: String) -> LimiterBox {
        limiters.withLock { boxes in
            if let box = boxes[project] { return box }
            // Until the lane reads the project's row, the limits a new project gets.
            let box = LimiterBox(
                settings: .init(requests: ProjectDefaults.rateLimitRequests, window: ProjectDefaults.rateLimitWindow))
            boxes[project] = box
            return box
        }
    }

    /// Projects that have a token now get their `token_missing` leads back (start, SIGHUP).
    public func releaseProjectsWithTokens() async throws {
        let projects = tokens.projects.filter { configuration.projects?.contains($0) ?? true }
        try await configuration.bounded("releasing token_missing leads") { [store] in
            try await store.release(projects: projects, reason: .tokenMissing)
        }
        wake.wakeAll()
    }
}

/// Whether the lock session that lanes depend on is still the live one.
final class SessionFlag: Sendable {
    private let flag = Atomic<Bool>(true)
    var value: Bool { flag.load(ordering: .relaxed) }
    func set(_ value: Bool) { flag.store(value, ordering: .relaxed) }
}

/// What `/healthz` reports (docs/operating.md): the lock session and the LISTEN connection
/// are up, and the worker is not stuck. Stuck means no request finished and no lane knew
/// why it was waiting (idle, a rate limit, another worker's request) for longer than
/// `stallLimit` (twice the request timeout): every slot held by requests that never end,
/// or a lane waiting on something that never answers. An orchestrator then restarts it.
public final class WorkerHealth: Sendable {
    private let lockSession = Atomic<Bool>(false)
    private let listening = Atomic<Bool>(false)
    private let lastProgress = Mutex(ContinuousClock.now)
    let stallLimit: Duration

    public init(stallLimit: Duration = .seconds(60)) { self.stallLimit = stallLimit }

    func setLockSession(_ up: Bool) { lockSession.store(up, ordering: .relaxed) }
    func setListening(_ up: Bool) { listening.store(up, ordering: .relaxed) }
    /// A request finished, or a lane waits for a reason it knows.
    func progressed(now: ContinuousClock.Instant = .now) { lastProgress.withLock { $0 = max($0, now) } }

    public func isStalled(now: ContinuousClock.Instant = .now) -> Bool {
        now - lastProgress.withLock { $0 } > stallLimit
    }

    public var isHealthy: Bool {
        lockSession.load(ordering: .relaxed) && listening.load(ordering: .relaxed) && !isStalled()
    }
    public var summary: String {
        let stalled = isStalled()
        return
            "lock_session=\(lockSession.load(ordering: .relaxed) ? "up" : "down") listen=\(listening.load(ordering: .relaxed) ? "up" : "down") progress=\(stalled ? "stalled" : "ok")"
    }
}

/// Says yes at most once per `interval` (the first time at once): for the sweep's chores
/// that need not run on every pass.
final class Cadence: Sendable {
    private let interval: Duration
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(every interval: Duration) { self.interval = interval }

    func isDue(now: ContinuousClock.Instant = .now) -> Bool {
        last.withLock { last in
            guard last.map({ now - $0 >= interval }) ?? true else { return false }
            last = now
            return true
        }
    }
}
