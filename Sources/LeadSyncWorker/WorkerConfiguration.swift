import Foundation

/// How one `leadsync worker` process behaves.
public struct WorkerConfiguration: Sendable {
    /// Written on every attempt row; unique per process.
    public var workerId: String
    /// Serve only these projects (`--project`); nil = all.
    public var projects: [String]?
    /// `--once`: drain everything ready, then stop.
    public var once: Bool
    /// The backstop scan for work and dead workers' attempts.
    public var sweepInterval: Duration
    /// How long one request may take before it counts as a timeout.
    public var requestTimeout: Duration
    /// An open attempt older than this belongs to a dead worker. Longer than a request can
    /// take, so a live worker's request is never mistaken for a dead one's.
    public var lease: Duration
    /// New leads are read again from the start this often, to catch rows whose inserting
    /// transaction committed after higher ids were read.
    public var gapScanInterval: Duration
    /// How long an idle lane keeps its project before letting another worker have it.
    public var idleLinger: Duration
    /// How often the pending-leads gauges are refreshed; nil when nobody reads metrics.
    public var backlogMetricsInterval: Duration?
    /// Requests out at once over all projects (each project also has its `max_in_flight`).
    public var maxConcurrentRequests: Int
    /// The longest any one database call of a lane may take (the worker's sessions also
    /// carry it as `statement_timeout`, less a second so the server usually ends it first).
    public var databaseTimeout: Duration
    /// Projects served at once (each holds a lane and an advisory lock); the server's lock
    /// table may allow fewer (`LaneBudget`, docs/operating.md §21).
    public var maxLanes: Int = 1000
    /// How long a write-back is retried while the database is away before the lane gives
    /// its request up to the sweep (a restart takes seconds; giving up means a resend).
    public var writeBackPatience: Duration = .seconds(120)

    public init(
        workerId: String = WorkerConfiguration.defaultWorkerId(), projects: [String]? = nil, once: Bool = false,
        sweepInterval: Duration = .seconds(1), requestTimeout: Duration = .seconds(30),
        lease: Duration? = nil, gapScanInterval: Duration = .seconds(2), idleLinger: Duration = .seconds(10),
        backlogMetricsInterval: Duration? = nil, maxConcurrentRequests: Int = 8,
        databaseTimeout: Duration = .seconds(30)
    ) {
        self.databaseTimeout = databaseTimeout
        self.workerId = workerId
        self.projects = projects
        self.once = once
        self.sweepInterval = sweepInterval
        self.requestTimeout = requestTimeout
        self.lease = lease ?? requestTimeout + .seconds(15)
        self.gapScanInterval = gapScanInterval
        self.idleLinger = idleLinger
        self.backlogMetricsInterval = backlogMetricsInterval
        self.maxConcurrentRequests = maxConcurrentRequests
    }

    public static func defaultWorkerId() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt16.random(in: 0...UInt16.max))"
    }
}

extension WorkerConfiguration {
    /// Runs one database call of the worker (a lane's or the sweep's), giving up after
    /// `databaseTimeout` whatever its connection does: the server's `statement_timeout` is
    /// the first line, a connection that never answers the second (docs/operating.md §8).
    func bounded<T: Sendable>(_ what: String, _ operation: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        try await withTimeout(databaseTimeout, what, operation)
    }
}
