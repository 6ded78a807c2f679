import DequeModule

/// How many projects one worker serves at once (docs/operating.md §21). Each served project
/// holds an advisory lock on the lock session, and advisory locks live in the server's
/// shared lock table: `max_locks_per_transaction × (max_connections +
/// max_prepared_transactions)` entries for every session's locks together. A worker that
/// held one per project of 10,000 could fill it ("out of shared memory" for everyone), so
/// it serves at most `--max-lanes` projects at once and never more than half the table.
/// Pure: the dispatcher asks, and does what it answers.
struct LaneBudget: Sendable, Equatable {
    /// The server's lock table, as its settings say.
    struct LockTable: Sendable, Equatable {
        var maxLocksPerTransaction: Int
        var maxConnections: Int
        var maxPreparedTransactions: Int
        var slots: Int { maxLocksPerTransaction * (maxConnections + maxPreparedTransactions) }
    }

    /// Lanes (projects, locks) at once.
    let maxLanes: Int
    /// What `--max-lanes` asked for.
    let configured: Int
    let table: LockTable?

    /// Lanes that may stay while idle (`idle_linger`): each one looks for work every sweep
    /// interval, so a few thousand lingering lanes would cost more than their projects.
    static let maxLingering = 64

    init(configured: Int, table: LockTable?) {
        self.configured = max(1, configured)
        self.table = table
        maxLanes = max(1, min(self.configured, table.map { $0.slots / 2 } ?? .max))
    }

    /// Whether the server's settings, not `--max-lanes`, set the cap.
    var limitedByServer: Bool { maxLanes < configured }

    /// How many waiting projects to start now, with `served` lanes running: as many as
    /// there is room for, unless waiting for more room is worth it (`fewest`).
    func toStart(served: Int, waiting: Int, notified: Bool = false, sweep: Bool = true) -> Int {
        let room = max(0, min(waiting, maxLanes - served))
        return room >= min(waiting, fewest) || notified || sweep ? room : 0
    }

    /// The fewest waiting projects started together while more wait than there is room for
    /// (the cap reached): each start costs a statement on the lock session and a read of
    /// their starts, worth one for many lanes, and with 1,000 lanes running, one ends
    /// every millisecond. A project named by a notification (a lead that should go at
    /// once) starts at once, and every sweep starts what there is room for.
    var fewest: Int { min(32, max(1, maxLanes / 16)) }

    /// Whether an idle lane may keep its project: few lanes run, and no project waits for
    /// the place it holds. A project waiting while there is room below the cap gets a lane
    /// of its own: an idle lane that let go for it would leave its own project's next lead
    /// to wait for a new lane, behind the dispatcher's sweep (docs/operating.md §22).
    func mayLinger(served: Int, waiting: Int) -> Bool {
        served <= min(maxLanes, Self.maxLingering) && (waiting == 0 || served < maxLanes)
    }

    /// The one line the worker logs when it opens its lock session.
    var summary: String {
        let server =
            table.map {
                "the server's lock table holds max_locks_per_transaction \($0.maxLocksPerTransaction) × (max_connections \($0.maxConnections) + max_prepared_transactions \($0.maxPreparedTransactions)) = \($0.slots) locks for all sessions, half of them at most for this worker"
            } ?? "the server's lock table size is unknown"
        if limitedByServer {
            return
                "serving at most \(maxLanes) projects at once, fewer than --max-lanes \(configured): \(server); raise max_locks_per_transaction to serve more at once (README, Many tenants)"
        }
        return "serving at most \(maxLanes) projects at once (--max-lanes; \(server))"
    }
}

/// Projects found ready that wait for a lane, oldest find first; each once.
struct ReadyQueue: Sendable {
    private var order: Deque<String> = []
    private var members: Set<String> = []
    /// Of `members`, those a notification named (at the front).
    private var named: Set<String> = []

    var count: Int { order.count }
    var isEmpty: Bool { order.isEmpty }
    /// Whether a project a notification named waits.
    var hasNotified: Bool { !named.isEmpty }

    /// The sweep's list replaces what was waiting: a project no longer ready drops out.
    mutating func replace(with ready: [String], skipping served: (String) -> Bool) {
        order = []
        members = []
        named = []
        for project in ready where !served(project) && members.insert(project).inserted { order.append(project) }
    }

    /// A notification names a project no lane serves: it goes first.
    mutating func pushFront(_ project: String) {
        guard members.insert(project).inserted else { return }
        order.prepend(project)
        named.insert(project)
    }

    /// Up to `count` projects to start, none that `served` says already has a lane.
    mutating func take(_ count: Int, skipping served: (String) -> Bool) -> [String] {
        var taken: [String] = []
        while taken.count < count, let project = order.popFirst() {
            members.remove(project)
            named.remove(project)
            if !served(project) { taken.append(project) }
        }
        return taken
    }
}
