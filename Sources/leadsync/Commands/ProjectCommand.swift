import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncCore

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "List projects, pause or resume one, change its limits.",
        discussion: """
            Without a subcommand: list.

            Examples:
              leadsync project list
              leadsync project pause acme --reason "campaign on hold"
              leadsync project resume acme
              leadsync project set acme --rate 50 --window 5s --max-batch 500
            """,
        subcommands: [
            ProjectListCommand.self, ProjectPauseCommand.self, ProjectResumeCommand.self, ProjectSetCommand.self,
        ],
        defaultSubcommand: ProjectListCommand.self
    )
}

struct ProjectListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Every project with its state and limits.",
        discussion: """
            Runs as a member of leadsync_reader (README, Security).

            RATE is requests per window. A project paused by a 403 answer shows why.

            Examples:
              leadsync project list
              leadsync project list --format json
            """
    )

    @Option(help: "Output format: table, json or csv.")
    var format: OutputFormat = .table

    func run() async throws {
        let rows = try await Admin.withConnection(doing: "project list") { connection, logger in
            try await ProjectAdmin(logger: logger).list(on: connection)
        }
        let output = ProjectAdmin.render(rows, format, style: Admin.style(for: format))
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

struct ProjectPauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop sending a project's leads until it is resumed.",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            Its pending leads stay pending and wait; requests already out finish normally.

            Examples:
              leadsync project pause acme
              leadsync project pause acme --reason "token being rotated"
            """
    )

    @Argument(help: "The project id.")
    var id: String

    @Option(help: "Why, for the report (default: paused by an operator).")
    var reason: String?

    func run() async throws {
        let line = try await Admin.withConnection(doing: "project pause") { connection, logger in
            try await ProjectAdmin(logger: logger).pause(id, reason: reason, on: connection)
        }
        print(line)
    }
}

struct ProjectResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Send a project's leads again, and release those held because of the project.",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            Clears the pause (an operator's or a 403 answer's) and puts back to
            pending the project's leads held for
            \(ProjectAdmin.releasedOnResume.map(\.rawValue).joined(separator: ", ")).
            Leads held for other reasons stay held: see leadsync release.

            Examples:
              leadsync project resume acme
            """
    )

    @Argument(help: "The project id.")
    var id: String

    func run() async throws {
        let resumed = try await Admin.withConnection(doing: "project resume") { connection, logger in
            try await ProjectAdmin(logger: logger).resume(id, on: connection)
        }
        print(ProjectAdmin.resumeSummary(id, resumed))
    }
}

struct ProjectSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a project's rate limit, batch size, concurrency or retry budget.",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            A running worker picks the new values up with its next batch.

            Examples:
              leadsync project set acme --rate 50 --window 5
              leadsync project set acme --window 10s --max-in-flight 2
              leadsync project set acme --max-batch 500 --max-attempts 12
              leadsync project set acme --max-request-bytes 524288
            """
    )

    @Argument(help: "The project id.")
    var id: String

    @Option(help: "Requests allowed per window.")
    var rate: Int?

    @Option(help: "The rate window: seconds (5, 0.5) or a duration (5s, 1m).")
    var window: DurationArgument?

    @Option(help: "Most leads per request (1–1000).")
    var maxBatch: Int?

    @Option(help: "Most requests out at once.")
    var maxInFlight: Int?

    @Option(help: "Attempts before a lead is held (retries_exhausted).")
    var maxAttempts: Int?

    @Option(help: "Most bytes of encoded request body (1024–67108864); a lead larger alone is invalid.")
    var maxRequestBytes: Int?

    var limits: ProjectAdmin.Limits {
        ProjectAdmin.Limits(
            rateLimitRequests: rate, rateLimitWindow: window?.duration, maxBatchSize: maxBatch,
            maxInFlight: maxInFlight, maxAttempts: maxAttempts, maxRequestBytes: maxRequestBytes)
    }

    func validate() throws {
        if limits.isEmpty {
            throw ValidationError(
                "nothing to set: give --rate, --window, --max-batch, --max-in-flight, --max-attempts or --max-request-bytes"
            )
        }
        if let rate, rate < 1 { throw ValidationError("--rate must be at least 1") }
        if let window, window.duration < .milliseconds(1) { throw ValidationError("--window must be at least 1ms") }
        if let maxBatch, !(1...1000).contains(maxBatch) { throw ValidationError("--max-batch must be 1–1000") }
        if let maxInFlight, maxInFlight < 1 { throw ValidationError("--max-in-flight must be at least 1") }
        if let maxAttempts, maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1") }
        if let maxRequestBytes, !(1024...67_108_864).contains(maxRequestBytes) {
            throw ValidationError("--max-request-bytes must be 1024–67108864")
        }
    }

    func run() async throws {
        let row = try await Admin.withConnection(doing: "project set") { connection, logger in
            try await ProjectAdmin(logger: logger).set(id, limits, on: connection)
        }
        print(
            "project \(row.projectId): rate \(row.rateText), max batch \(row.maxBatchSize), "
                + "max in flight \(row.maxInFlight), max attempts \(row.maxAttempts), "
                + "max request bytes \(row.maxRequestBytes)")
    }
}
