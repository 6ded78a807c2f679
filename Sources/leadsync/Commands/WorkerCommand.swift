import ArgumentParser
import CMalloc
import Foundation
import LeadSyncStore
import LeadSyncWorker
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UservoxClient

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Send pending leads to Uservox until stopped (or, with --once, until none is ready).",
        discussion: """
            Runs as a member of leadsync_worker (README, Security).

            Reads DATABASE_URL (may name a transaction-mode pooler: then LEADSYNC_SESSION_DATABASE_URL
            must be a direct connection for LISTEN and the project locks; LEADSYNC_PREPARED_STATEMENTS
            auto|on|off; README, Behind a connection pooler), USERVOX_BASE_URL (default https://crm.uservox.ai; http:// only to a
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

    // Tests shorten it to see statement_timeout act (docs/operating.md §8).
    @Option(help: .hidden)
    var databaseTimeout: Double = 30

    // Defaults measured with 20 busy projects on 2 cores (README, benchmarks): beyond
    // these, requests and queries only queue inside PostgreSQL, and each one out holds
    // its batch, body and answer in memory.
    @Option(help: "Requests out at once over all projects.")
    var maxRequests: Int = 8

    @Option(help: "PostgreSQL connections in the worker's pool (besides its lock and LISTEN sessions).")
    var dbConnections: Int = 6

    // Each served project holds an advisory lock in the server's shared lock table
    // (docs/operating.md §21); the worker also stays within half of that table.
    @Option(help: "Projects served at once (fewer when the server's max_locks_per_transaction allows fewer).")
    var maxLanes: Int = 1000

    @Option(
        help:
            "PostgreSQL connections kept for projects that have caught up (a lead or a few at a time), besides the pool; 0: none."
    )
    var reservedDbConnections: Int = 1

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0–65535")
        }
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive") }
        guard databaseTimeout >= 2 else { throw ValidationError("--database-timeout must be at least 2 seconds") }
        guard maxRequests > 0 else { throw ValidationError("--max-requests must be positive") }
        guard dbConnections > 0 else { throw ValidationError("--db-connections must be positive") }
        guard maxLanes > 0 else { throw ValidationError("--max-lanes must be positive") }
        guard reservedDbConnections >= 0 else { throw ValidationError("--reserved-db-connections must be 0 or more") }
        guard !metricsHost.isEmpty else { throw ValidationError("--metrics-host must not be empty") }
        guard metricsMaxProjects >= 0 else { throw ValidationError("--metrics-max-projects must be 0 or more") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // glibc gives each thread that allocates an arena of its own (up to 8 per core) and
        // keeps what they free: 5 MB more at peak with 20 busy projects, for no speed
        // measured. An operator's MALLOC_ARENA_MAX still wins.
        if environment["MALLOC_ARENA_MAX"] == nil { mallopt(M_ARENA_MAX, 2) }
        let database = try Environment.databaseSetup()
        let logger = Environment.logger(label: "leadsync.worker", level: .info, json: logFormat == .json)
        let baseURL = environment["USERVOX_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://crm.uservox.ai"
        guard let tokensPath = environment["LEADSYNC_TOKENS_FILE"], !tokensPath.isEmpty else {
            throw CLIError(
                "LEADSYNC_TOKENS_FILE is not set: point it at a JSON file {\"<projectId>\": \"<token>\"} (mode 600)")
        }

        var metrics: Worker.Metrics?
        if let metricsPort {
            let registry = PrometheusCollectorRegistry()
            WorkerMetrics.projectLabels.setLimit(metricsMaxProjects)
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            metrics = Worker.Metrics(registry: registry, host: metricsHost, port: metricsPort)
        }
        var configuration = WorkerConfiguration(
            projects: projects.isEmpty ? nil : projects, once: once,
            sweepInterval: .milliseconds(Int64(sweepInterval * 1000)),
            requestTimeout: .milliseconds(Int64(requestTimeout * 1000)),
            lease: lease.map { .milliseconds(Int64($0 * 1000)) },
            backlogMetricsInterval: metricsPort == nil ? nil : .seconds(10), maxConcurrentRequests: maxRequests,
            databaseTimeout: .milliseconds(Int64(databaseTimeout * 1000)))
        configuration.maxLanes = maxLanes
        let worker: Worker
        do {
            worker = try Worker(
                configuration: configuration, database: database, baseURL: baseURL,
                allowInsecureUservox: allowInsecureUservox, tokensPath: tokensPath, databaseConnections: dbConnections,
                reservedConnections: reservedDbConnections, metrics: metrics, logger: logger)
        } catch let error as BaseURLPolicy.Refusal {
            // A configuration error, not a usage error: exit 1 with the policy's one line.
            throw CLIError("\(error)")
        }
        let progressLine = ProgressLine(progress: worker.progress, enabled: once && isatty(STDERR_FILENO) == 1)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: progressLine),
                    .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        progressLine.finish()
        if once {
            print("done: \(worker.progress.line)")
            logger.info("time per 1000 leads", metadata: ["phases": "\(worker.progress.phaseSummary)"])
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
