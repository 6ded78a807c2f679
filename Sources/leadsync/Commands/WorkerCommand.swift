import ArgumentParser
import CMalloc
import Foundation
import LeadSyncStore
import LeadSyncWorker
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UservoxClient

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Send pending leads to Uservox until stopped (or, with --once, until none is ready).",
        discussion: """
            Runs as a member of leadsync_worker (README, Security).

            Reads DATABASE_URL, USERVOX_BASE_URL (default https://crm.uservox.ai; http:// only to a
            loopback host, or with --allow-insecure-uservox) and LEADSYNC_TOKENS_FILE (a JSON object
            {"<projectId>": "<token>"}, a regular file of at most 1 MiB owned by this user or root, mode 600
            or 400; reread on SIGHUP).
            SIGTERM or SIGINT stops claiming, lets requests in flight finish, writes them back and exits 0.

            Examples:
              leadsync worker
              leadsync worker --once --project acme
              leadsync worker --metrics-port 9464 --log-format json
              leadsync worker --metrics-host 0.0.0.0 --metrics-port 9464   (every interface: no authentication)
            """
    )

    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Flag(help: "Drain everything ready now, then exit 0.")
    var once = false

    @Option(name: .customLong("project"), help: "Serve only this project (repeatable).")
    var projects: [String] = []

    @Option(help: "Serve Prometheus /metrics and /healthz on this port.")
    var metricsPort: Int?

    // /metrics has no authentication: only this machine by default.
    @Option(help: "The address /metrics and /healthz listen on.")
    var metricsHost: String = "127.0.0.1"

    @Option(help: "Projects with a metrics label of their own; the rest share the label 'other'.")
    var metricsMaxProjects: Int = WorkerMetrics.defaultMaxProjects

    @Flag(help: "Accept an http:// USERVOX_BASE_URL to a host that is not loopback (tokens travel unencrypted).")
    var allowInsecureUservox = false

    @Option(help: "Log lines as text or json.")
    var logFormat: LogFormat = .text

    @Option(help: "Seconds one request may take before it counts as a timeout.")
    var requestTimeout: Double = 30

    @Option(help: .hidden)
    var lease: Double?

    @Option(help: .hidden)
    var sweepInterval: Double = 1

    // Defaults measured with 20 busy projects on 2 cores (README, benchmarks): beyond
    // these, requests and queries only queue inside PostgreSQL, and each one out holds
    // its batch, body and answer in memory.
    @Option(help: "Requests out at once over all projects.")
    var maxRequests: Int = 8

    @Option(help: "PostgreSQL connections in the worker's pool (besides its lock and LISTEN sessions).")
    var dbConnections: Int = 6

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0–65535")
        }
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive") }
        guard maxRequests > 0 else { throw ValidationError("--max-requests must be positive") }
        guard dbConnections > 0 else { throw ValidationError("--db-connections must be positive") }
        guard !metricsHost.isEmpty else { throw ValidationError("--metrics-host must not be empty") }
        guard metricsMaxProjects >= 0 else { throw ValidationError("--metrics-max-projects must be 0 or more") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // glibc gives each thread that allocates an arena of its own (up to 8 per core) and
        // keeps what they free: 5 MB more at peak with 20 busy projects, for no speed
        // measured. An operator's MALLOC_ARENA_MAX still wins.
        if environment["MALLOC_ARENA_MAX"] == nil { mallopt(M_ARENA_MAX, 2) }
        let url = try Environment.databaseURL()
        let logger = Environment.logger(label: "leadsync.worker", level: .info, json: logFormat == .json)
        let baseURL = environment["USERVOX_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://crm.uservox.ai"
        // A configuration error, not a usage error: exit 1 with the policy's one line.
        do {
            if try BaseURLPolicy.check(baseURL, allowInsecure: allowInsecureUservox) == .insecureAllowed {
                logger.warning(
                    "USERVOX_BASE_URL is http:// to a host that is not loopback (--allow-insecure-uservox): bearer tokens travel unencrypted"
                )
            }
        } catch {
            throw CLIError("\(error)")
        }
        guard let tokensPath = environment["LEADSYNC_TOKENS_FILE"], !tokensPath.isEmpty else {
            throw CLIError(
                "LEADSYNC_TOKENS_FILE is not set: point it at a JSON file {\"<projectId>\": \"<token>\"} (mode 600)")
        }
        let tokens = try TokenStore(path: tokensPath)

        try await url.withConnection(logger: logger) { connection in
            let status = try await Migrator(logger: logger).status(on: connection)
            if !status.pending.isEmpty {
                throw CLIError(
                    "the database schema is not up to date (\(status.pending.count) pending): run leadsync migrate")
            }
        }

        let registry = PrometheusCollectorRegistry()
        if metricsPort != nil {
            WorkerMetrics.projectLabels.setLimit(metricsMaxProjects)
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        }

        let clientConfiguration = UservoxClient.Configuration(
            baseURL: baseURL, requestTimeout: .milliseconds(Int64(requestTimeout * 1000)))
        let http = UservoxClient.makeHTTPClient(clientConfiguration)
        let client = UservoxClient(configuration: clientConfiguration, httpClient: http)

        var poolLogger = logger
        poolLogger.logLevel = .error
        var poolConfiguration = try url.clientConfiguration(maximumConnections: dbConnections)
        // Every wait on the database is bounded (docs/operating.md): the server ends a
        // statement after this; the lanes also give up on a call a little later.
        poolConfiguration.options.additionalStartupParameters.append(("statement_timeout", "29s"))
        let postgres = PostgresClient(configuration: poolConfiguration, backgroundLogger: poolLogger)
        let store = LeadStore(client: postgres, logger: poolLogger)
        let wake = WakeSignal()
        let health = WorkerHealth(stallLimit: .milliseconds(Int64(requestTimeout * 2000)))
        let configuration = WorkerConfiguration(
            projects: projects.isEmpty ? nil : projects, once: once,
            sweepInterval: .milliseconds(Int64(sweepInterval * 1000)),
            requestTimeout: .milliseconds(Int64(requestTimeout * 1000)),
            lease: lease.map { .milliseconds(Int64($0 * 1000)) },
            backlogMetricsInterval: metricsPort == nil ? nil : .seconds(10), maxConcurrentRequests: maxRequests)
        let dispatcher = Dispatcher(
            database: url, store: store, client: client, tokens: tokens, wake: wake, configuration: configuration,
            health: health, logger: logger)
        let listener = Listener(database: url, wake: wake, health: health, logger: logger)
        let reloader = TokenReloader(tokens: tokens, dispatcher: dispatcher, logger: logger)
        let progressLine = ProgressLine(progress: dispatcher.progress, enabled: once && isatty(STDERR_FILENO) == 1)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: postgres),
            .init(service: listener),
            .init(service: reloader),
            .init(service: progressLine),
            .init(service: dispatcher, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let metricsPort {
            services.insert(
                .init(
                    service: MetricsServer(
                        registry: registry, health: health,
                        state: StateMetrics(client: postgres, health: health, logger: poolLogger), host: metricsHost,
                        port: metricsPort, logger: logger)),
                at: 1)
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // In-flight requests end within the request timeout; then their leads are written back.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(Int64(requestTimeout) + 15)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        progressLine.finish()
        if once {
            print("done: \(dispatcher.progress.line)")
            logger.info("time per 1000 leads", metadata: ["phases": "\(dispatcher.progress.phaseSummary)"])
        }
    }
}

/// `--once` on a terminal: one progress line, rewritten in place.
struct ProgressLine: Service {
    let progress: WorkerProgress
    let enabled: Bool

    func run() async throws {
        guard enabled else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                FileHandle.standardError.write(Data("\r\u{1B}[K\(progress.line)".utf8))
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
