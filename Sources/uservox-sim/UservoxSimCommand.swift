import ArgumentParser
import Foundation
import Hummingbird
import Logging
import UservoxSimulator

/// `uservox-sim`: the Uservox Bulk Initiate API for demos, tests and benchmarks (docs/contract.md §8).
@main
struct UservoxSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uservox-sim",
        abstract: "Serves a simulated Uservox Bulk Initiate Leads API and reports what it received.",
        discussion: """
            Prints `listening on http://HOST:PORT` on stdout once it accepts connections
            (with --port 0 the port is chosen by the system). Flags override the --config file.

            Endpoints:
              POST   /api/v1/leads/bulk/initiate[?v=1.2]   the API (Authorization: Bearer TOKEN)
              GET    /_sim/stats                          counters per project and totals
              GET    /_sim/verdicts[?project=ID]          the last verdict per lead
              POST   /_sim/faults                         {"project"?, "script"?: ["500","drop",
                                                          "processed_500","hang","ok"], rates…}
              DELETE /_sim/faults                         no faults
              POST   /_sim/config                         replace parts of the configuration
              POST   /_sim/reset                          forget everything received

            Examples:
              uservox-sim --project p1=tok-p1 --project p2=tok-p2
              uservox-sim --config sim.json --port 0 --error-rate 0.05 --seed 7
            """
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind; 0 picks a free one.")
    var port = 8089

    @Option(name: .customLong("config"), help: "A JSON configuration file.")
    var configFile: String?

    @Option(name: .customLong("project"), help: "A project and its token, ID=TOKEN (repeatable).")
    var projects: [String] = []

    @Option(help: "Most leads (or leadIds) per request.")
    var maxLeads: Int?

    @Option(help: "Requests per rate window per project.")
    var rateLimit: Int?

    @Option(help: "The rate window in seconds.")
    var rateWindow: Double?

    @Option(help: "Delay before answering each admitted request, in milliseconds.")
    var latencyMs: Double?

    @Option(help: "Share of admitted requests answered 500 without processing (0…1).")
    var errorRate: Double?

    @Option(help: "Share of admitted requests whose connection is closed without an answer (0…1).")
    var dropRate: Double?

    @Option(
        name: .customLong("processed-then-500-rate"),
        help: "Share of admitted requests processed, then answered 500 (0…1).")
    var processedThen500Rate: Double?

    @Option(help: "Seed of the fault generator, so a run can be repeated.")
    var seed: UInt64?

    @Option(help: "Mostly-duplicate requests that block a project (0 turns the protection off).")
    var blockStrikes: Int?

    @Option(help: "Seconds in which --block-strikes strikes block the project.")
    var blockWindow: Double?

    @Option(help: "Seconds a blocked project is answered 429.")
    var blockSeconds: Double?

    func validate() throws {
        for rate in [errorRate, dropRate, processedThen500Rate].compactMap({ $0 }) where !(0...1).contains(rate) {
            throw ValidationError("rates must be from 0 to 1")
        }
        if let maxLeads, maxLeads < 1 { throw ValidationError("--max-leads must be at least 1") }
        if let rateLimit, rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1") }
        if let rateWindow, !(rateWindow > 0) { throw ValidationError("--rate-window must be > 0") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be from 0 to 65535") }
        for entry in projects where Self.splitProject(entry) == nil {
            throw ValidationError("--project takes ID=TOKEN, got \(entry)")
        }
    }

    func run() async throws {
        let configuration = try makeConfiguration()
        let simulator = try UservoxSimulator(configuration: configuration)
        var logger = Logger(label: "uservox-sim") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel =
            ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        let host = self.host
        let application = simulator.makeApplication(host: host, port: port, logger: logger) { port in
            FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
        }
        try await application.runService()
    }

    func makeConfiguration() throws -> SimulatorConfiguration {
        var configuration = SimulatorConfiguration()
        if let configFile {
            guard let data = FileManager.default.contents(atPath: configFile) else {
                throw ValidationError("cannot read \(configFile)")
            }
            configuration = try SimulatorConfiguration.parse(json: data)
        }
        for entry in projects {
            guard let (id, token) = Self.splitProject(entry) else { continue }
            configuration.projects[id] = SimulatorConfiguration.Project(id: id, token: token)
        }
        if configuration.projects.isEmpty {
            configuration.projects["demo"] = SimulatorConfiguration.Project(id: "demo", token: "demo-token")
            FileHandle.standardError.write(Data("uservox-sim: no project configured; serving demo=demo-token\n".utf8))
        }
        if let maxLeads { configuration.maxLeadsPerRequest = maxLeads }
        if let rateLimit { configuration.rateLimit.requests = rateLimit }
        if let rateWindow { configuration.rateLimit.window = .seconds(rateWindow) }
        if let latencyMs { configuration.faults.latency = .seconds(latencyMs / 1000) }
        if let errorRate { configuration.faults.errorRate = errorRate }
        if let dropRate { configuration.faults.dropRate = dropRate }
        if let processedThen500Rate { configuration.faults.processedThen500Rate = processedThen500Rate }
        if let seed { configuration.faults.seed = seed }
        if let blockStrikes { configuration.duplicateProtection.strikes = blockStrikes }
        if let blockWindow { configuration.duplicateProtection.strikeWindow = .seconds(blockWindow) }
        if let blockSeconds { configuration.duplicateProtection.blockDuration = .seconds(blockSeconds) }
        return configuration
    }

    static func splitProject(_ entry: String) -> (String, String)? {
        guard let equals = entry.firstIndex(of: "=") else { return nil }
        let id = String(entry[..<equals])
        let token = String(entry[entry.index(after: equals)...])
        return id.isEmpty || token.isEmpty ? nil : (id, token)
    }
}
