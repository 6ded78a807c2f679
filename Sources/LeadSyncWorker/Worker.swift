import AsyncHTTPClient
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UservoxClient

/// One `leadsync worker` as a `Service`: the pool, the LISTEN session, the dispatcher and
/// its lanes, the token reloader and, when asked, the metrics server, run as one group.
/// The CLI parses flags and runs it; tests run it in-process. Graceful shutdown (a signal
/// to the enclosing group, or `once` drained) stops claiming and lets requests in flight
/// finish and be written back (docs/contract.md §5).
public struct Worker: Service {
    /// `/metrics` and `/healthz`. Bootstrapping `MetricsSystem` with `registry` is the
    /// process's to do: it is global and can be done once.
    public struct Metrics: Sendable {
        public var registry: PrometheusCollectorRegistry
        public var host: String
        public var port: Int

        public init(registry: PrometheusCollectorRegistry, host: String = "127.0.0.1", port: Int) {
            self.registry = registry
            self.host = host
            self.port = port
        }
    }

    public let configuration: WorkerConfiguration
    /// What the worker has done so far (`--once`'s progress line and summary).
    public var progress: WorkerProgress { dispatcher.progress }

    private let database: DatabaseSetup
    /// Through a pooler: the settings each pooled call sets first, unless the sessions carry them.
    private let pooled: PooledSettings?
    private let http: HTTPClient
    private let postgres: PostgresClient
    private let dispatcher: Dispatcher
    /// What runs beside the dispatcher, in dependency order.
    private let services: [any Service]
    private let logger: Logger

    /// - Parameters:
    ///   - baseURL: Uservox; `http://` only to a loopback host unless `allowInsecureUservox`
    ///     (`BaseURLPolicy`), which is then logged as a warning.
    ///   - tokensPath: the tokens file (`TokenStore`), reread on SIGHUP.
    ///   - databaseConnections: the pool's size, besides the lock and LISTEN sessions.
    ///   - reservedConnections: kept beside the pool for lanes that have caught up
    ///     (`LeadStore.reserving`); 0: none.
    public init(
        configuration: WorkerConfiguration, database: DatabaseURL, baseURL: String, allowInsecureUservox: Bool = false,
        tokensPath: String, databaseConnections: Int = 6, reservedConnections: Int = 1, metrics: Metrics? = nil,
        logger: Logger
    ) throws {
        try self.init(
            configuration: configuration, database: DatabaseSetup(pool: database), baseURL: baseURL,
            allowInsecureUservox: allowInsecureUservox, tokensPath: tokensPath,
            databaseConnections: databaseConnections, reservedConnections: reservedConnections, metrics: metrics,
            logger: logger)
    }

    /// - Parameter database: the pool's URL (possibly a pooler's) and where sessions go
    ///   (README, Behind a connection pooler).
    public init(
        configuration: WorkerConfiguration, database: DatabaseSetup, baseURL: String,
        allowInsecureUservox: Bool = false, tokensPath: String, databaseConnections: Int = 6,
        reservedConnections: Int = 1, metrics: Metrics? = nil, logger: Logger
    ) throws {
        if try BaseURLPolicy.check(baseURL, allowInsecure: allowInsecureUservox) == .insecureAllowed {
            logger.warning(
                "USERVOX_BASE_URL is http:// to a host that is not loopback (--allow-insecure-uservox): bearer tokens travel unencrypted"
            )
        }
        let tokens = try TokenStore(path: tokensPath)
        let clientConfiguration = UservoxClient.Configuration(
            baseURL: baseURL, requestTimeout: configuration.requestTimeout)
        var poolLogger = logger
        poolLogger.logLevel = .error
        // Every wait on the database is bounded (docs/operating.md): the server ends a
        // statement after this; the lanes also give up on a call a little later.
        let settings =
            DatabaseURL.plannerSettings + [
                ("statement_timeout", "\(max(1, Int(configuration.databaseTimeout.secondsValue) - 1))s")
            ]
        // Direct, the sessions carry the settings from startup; through a pooler each
        // transaction sets them (`PooledSettings`).
        let pooled = database.pooled ? PooledSettings(settings) : nil
        // Both pools alike, but for their size.
        func poolConfiguration(_ maximumConnections: Int) throws -> PostgresClient.Configuration {
            var configuration = try database.pool.clientConfiguration(
                maximumConnections: maximumConnections, settings: pooled == nil ? settings : [])
            Self.withoutKeepAlive(&configuration)
            return configuration
        }
        let sharedPool = try poolConfiguration(databaseConnections)
        let http = UservoxClient.makeHTTPClient(clientConfiguration)
        // No minimum of connections kept open: with one, PostgresNIO's pool stopped the
        // process (a failed precondition, `minimumConcurrentConnections <= active`) when a
        // call came while PostgreSQL was unreachable (docs/operating.md §21). The cost: a
        // connection parked above the minimum gets an idle timer each time (`withoutKeepAlive`).
        let postgres = PostgresClient(configuration: sharedPool, backgroundLogger: poolLogger)
        // Lanes that have caught up query here while a connection is free (docs/operating.md
        // §22).
        let reserved =
            reservedConnections > 0
            ? PostgresClient(
                configuration: try poolConfiguration(reservedConnections),
                backgroundLogger: poolLogger) : nil
        let wake = WakeSignal()
        let health = WorkerHealth(stallLimit: configuration.requestTimeout * 2)
        let store = LeadStore(
            client: postgres, logger: poolLogger, pooled: pooled, namedStatements: database.namedStatements,
            notices: logger, reserved: reserved.map { ($0, reservedConnections) })
        let dispatcher = Dispatcher(
            database: database.session, store: store,
            client: UservoxClient(configuration: clientConfiguration, httpClient: http), tokens: tokens, wake: wake,
            configuration: configuration, health: health, logger: logger)
        var services: [any Service] = [postgres] + (reserved.map { [$0] } ?? [])
        if let metrics {
            services.append(
                MetricsServer(
                    registry: metrics.registry, health: health,
                    state: StateMetrics(client: postgres, pooled: pooled, health: health, logger: poolLogger),
                    host: metrics.host,
                    port: metrics.port, logger: logger))
        }
        services.append(Listener(database: database.session, wake: wake, health: health, logger: logger))
        services.append(TokenReloader(tokens: tokens, dispatcher: dispatcher, logger: logger))
        self.configuration = configuration
        self.database = database
        self.pooled = pooled
        self.http = http
        self.postgres = postgres
        self.dispatcher = dispatcher
        self.services = services
        self.logger = logger
    }

    /// Runs until graceful shutdown, or with `once` until nothing is ready; then shuts the
    /// HTTP client down. Call it once.
    public func run() async throws {
        do {
            try await checkSchema()
            // Dependency order: shutdown walks it backwards, so the dispatcher stops first
            // and the pool it writes back through goes last.
            let group = ServiceGroup(
                configuration: {
                    var group = ServiceGroupConfiguration(
                        services: services.map { .init(service: $0) } + [
                            // With `once` it returns when drained, and the rest stop with it.
                            .init(service: dispatcher, successTerminationBehavior: .gracefullyShutdownGroup)
                        ],
                        logger: logger)
                    // In-flight requests end within the request timeout; then their leads are written back.
                    group.maximumGracefulShutdownDuration = configuration.requestTimeout + .seconds(15)
                    return group
                }())
            try await group.run()
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    /// The worker runs only on the schema it was built for, and only with sessions that stay
    /// sessions: a pooled `DATABASE_URL` without a session URL is refused in one line.
    private func checkSchema() async throws {
        let logger = self.logger
        try await database.checkSessions(logger: logger)
        let pooled = self.pooled
        try await database.withPoolConnection(logger: logger) { connection in
            let status = try await Migrator(logger: logger).status(on: connection)
            if !status.pending.isEmpty {
                throw StoreError(
                    .notMigrated,
                    "the database schema is not up to date (\(status.pending.count) pending): run leadsync migrate")
            }
            if let pooled, try await pooled.adoptIfCarried(on: connection, logger: logger) {
                logger.info(
                    "the pooled sessions carry statement_timeout and random_page_cost (the login role's settings): each pooled call goes alone"
                )
            }
        }
    }
}

extension Worker {
    /// PostgresNIO's pool times each connection it parks with a `Task.sleep` (its idle
    /// timeout, and its keep-alive), and a sleep cancelled when the connection is leased
    /// again stays queued until its deadline, with its task's memory: a drain of 10,000
    /// small projects left tens of thousands, 10 MiB of the worker's peak and 2.3–2.9 % of
    /// a core while idle afterwards as they fired (docs/operating.md §21). So no keep-alive
    /// (the sweep uses a connection every second; a dead one fails its call like any lost
    /// connection), which halves them. The idle timeout stays a minute: at 10 s, a worker
    /// whose load moved between connections closed and reopened them, and each new
    /// session plans its prepared statements again (PostgreSQL's CPU per lead +15 % with
    /// one busy project, docs/performance.md §13).
    static func withoutKeepAlive(_ configuration: inout PostgresClient.Configuration) {
        configuration.options.keepAliveBehavior = nil
    }
}
