import Logging
import PostgresNIO

/// What the database says now, for the gauges `/metrics` exports at scrape time.
public struct StateSnapshot: Sendable {
    public struct Project: Sendable, Equatable {
        public var id: String
        public var paused: Bool
        public var pauseReason: String?
        /// Seconds since the oldest ready lead was inserted; 0 when none is ready.
        public var oldestReadyAge: Double
        /// Seconds since the oldest pending lead (ready or waiting for a retry) was inserted; 0 when none.
        public var lag: Double

        public init(id: String, paused: Bool, pauseReason: String?, oldestReadyAge: Double, lag: Double) {
            self.id = id
            self.paused = paused
            self.pauseReason = pauseReason
            self.oldestReadyAge = oldestReadyAge
            self.lag = lag
        }
    }

    /// Every project, in id order.
    public var projects: [Project] = []
    public var leadCounts: [(project: String, state: String, count: Int)] = []
    public var held: [(project: String, reason: String, count: Int)] = []

    public init() {}

    /// Reads the snapshot in one transaction under `MetricsQueries.scrapeStatementTimeout`
    /// (through a pooler after the `pooled` settings, which it overrides).
    public static func load(from client: PostgresClient, pooled: PooledSettings? = nil, logger: Logger) async throws
        -> StateSnapshot
    {
        try await client.withTransaction(logger: logger) { connection in
            var snapshot = StateSnapshot()
            try await pooled?.apply(on: connection, logger: logger)
            try await connection.query(MetricsQueries.scrapeStatementTimeout, logger: logger)
            for try await (id, paused, reason, age, lag) in try await connection.query(
                MetricsQueries.projects, logger: logger
            ).decode((String, Bool, String?, Double, Double).self) {
                snapshot.projects.append(
                    Project(id: id, paused: paused, pauseReason: reason, oldestReadyAge: age, lag: lag))
            }
            for try await (project, state, count) in try await connection.query(
                MetricsQueries.leadCounts, logger: logger
            ).decode((String, String, Int64).self) {
                snapshot.leadCounts.append((project, state, Int(count)))
            }
            for try await (project, reason, count) in try await connection.query(
                MetricsQueries.heldByReason, logger: logger
            ).decode((String, String, Int64).self) {
                snapshot.held.append((project, reason, Int(count)))
            }
            return snapshot
        }
    }
}
