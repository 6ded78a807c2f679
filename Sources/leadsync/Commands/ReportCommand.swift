import ArgumentParser
import Foundation
import LeadSyncAdmin

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Per project: leads by state, invalid and held by reason, lag, recent requests, pauses.",
        discussion: """
            Runs as a member of leadsync_reader (README, Security).

            PENDING counts leads ready to send, RETRYING those waiting out a back-off,
            IN FLIGHT those a request is carrying now; LAG is how long the oldest of
            them has waited. The requests, INVALID and INVALID RATE
            (invalid / (invalid + accepted)) cover --since.

            With --check the report is judged against thresholds, per project. A
            breach exits 3 with one line on stderr naming the threshold, the project
            and the value.

            Examples:
              leadsync report
              leadsync report --project acme --since 1h
              leadsync report --format json | jq '.projects[] | {project_id, lag_seconds}'
              leadsync report --format csv > report.csv
              leadsync report --check --max-lag 15m --max-invalid-rate 5% --max-held 0
            """
    )

    @OptionGroup var list: ListOptions

    @Option(help: "The window for requests and the invalid rate (e.g. 15m, 24h, 7d).")
    var since = DurationArgument(argument: "24h")!

    @Flag(help: "Exit 3 when a threshold below is breached (for cron and alerting).")
    var check = false

    @Option(help: "With --check: most invalid leads as a share of those decided in the window (5% or 0.05).")
    var maxInvalidRate: RateArgument?

    @Option(help: "With --check: longest the oldest pending lead may wait (e.g. 15m).")
    var maxLag: DurationArgument?

    @Option(help: "With --check: most held leads a project may have.")
    var maxHeld: Int?

    @Option(help: .hidden)
    var now: InstantArgument?

    var thresholds: ReportThresholds {
        ReportThresholds(maxInvalidRate: maxInvalidRate?.share, maxLag: maxLag?.duration, maxHeld: maxHeld)
    }

    func validate() throws {
        if let maxHeld, maxHeld < 0 { throw ValidationError("--max-held must be 0 or more") }
        if check && thresholds.isEmpty {
            throw ValidationError("--check needs at least one of --max-invalid-rate, --max-lag, --max-held")
        }
        if !check && !thresholds.isEmpty {
            throw ValidationError("--max-invalid-rate, --max-lag and --max-held take effect with --check")
        }
    }

    func run() async throws {
        let report = try await Admin.withConnection(doing: "report") { connection, logger in
            try await ReportLoader(logger: logger).load(
                on: connection, project: list.project, since: since.duration, sinceText: since.text, now: now?.date)
        }
        let breaches = check ? thresholds.breaches(in: report) : nil
        let output = ReportRenderer(report: report, breaches: breaches).render(
            list.format, style: Admin.style(for: list.format))
        FileHandle.standardOutput.write(Data(output.utf8))
        if let breaches, !breaches.isEmpty {
            throw CheckBreached(description: ReportThresholds.summary(breaches))
        }
    }
}
