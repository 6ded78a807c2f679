import ArgumentParser
import Foundation
import LeadSyncAdmin

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete old per-lead request history (attempt_leads); never leads or invalid markers.",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            Deletes the attempt_leads rows of finished requests started before the cutoff.
            Leads, invalid markers and the requests themselves (leadsync attempts, report)
            are kept; only lead show loses those old lines of history.

            Examples:
              leadsync prune --older-than 30d
              leadsync prune --older-than 90d --dry-run
            """
    )

    @Option(help: "Age of the history to delete (e.g. 30d, 12h).")
    var olderThan: DurationArgument

    @Flag(help: "Count what would be deleted; delete nothing.")
    var dryRun = false

    @Option(help: .hidden)
    var now: InstantArgument?

    func run() async throws {
        let result = try await Admin.withConnection(doing: "prune") { connection, logger in
            try await Prune(logger: logger).run(
                olderThan: olderThan.duration, dryRun: dryRun, now: now?.date, on: connection)
        }
        print(result.summary)
    }
}
