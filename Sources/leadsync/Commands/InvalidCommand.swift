import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncCore

struct InvalidCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invalid",
        abstract: "List invalid leads: reason, the API's message verbatim, source, attempt, time.",
        discussion: """
            Runs as a member of leadsync_reader (README, Security).

            The table shows counts by reason, then the newest leads (100 unless
            --limit says otherwise); csv and json export every match unless --limit
            is given. Reasons:
              \(InvalidReason.allCases.map(\.rawValue).joined(separator: "\n  "))
            A lead is fixed by sending a corrected copy: leadsync lead resubmit ID.

            Examples:
              leadsync invalid
              leadsync invalid --project acme --reason api_duplicate_call --limit 20
              leadsync invalid --format csv > invalid.csv
            """
    )

    static let tableLimit = 100

    @OptionGroup var list: ListOptions

    @Option(help: "Only this reason code.")
    var reason: String?

    @Option(help: "Show at most N leads, newest first.")
    var limit: Int?

    func validate() throws {
        if let reason, InvalidReason(rawValue: reason) == nil {
            throw ValidationError(
                "unknown reason '\(reason)'; one of: \(InvalidReason.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let format = list.format
        let limit = self.limit ?? (format == .table ? Self.tableLimit : nil)
        let filter = InvalidList.Filter(project: list.project, reason: reason, limit: limit)
        let out = StandardOutput()
        try await Admin.withConnection(doing: "invalid") { connection, logger in
            let lister = InvalidList(logger: logger)
            switch format {
            case .table:
                var rows: [InvalidLeadRow] = []
                try await lister.forEach(on: connection, filter: filter) { rows.append($0) }
                let totals = try await lister.totals(on: connection, filter: filter)
                out.write(InvalidList.table(totals: totals, rows: rows, style: Admin.style()))
            case .csv:
                out.write(InvalidList.csvHeader)
                try await lister.forEach(on: connection, filter: filter) { out.write(InvalidList.csvRow($0)) }
            case .json:
                var lines = JSONArrayLines()
                try await lister.forEach(on: connection, filter: filter) {
                    out.write(lines.next(InvalidList.jsonObject($0)))
                }
                out.write(lines.end())
            }
        }
        out.flush()
    }
}
