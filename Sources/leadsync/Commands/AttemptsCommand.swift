import ArgumentParser
import Foundation
import LeadSyncAdmin

struct AttemptsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attempts",
        abstract: "List requests sent to Uservox, newest first: time, project, leads, status, outcome, duration.",
        discussion: """
            Runs as a member of leadsync_reader (README, Security).

            One row per HTTP request; OUTCOME is open while the request is out.
            ACCEPTED, REJECTED and UNCONFIRMED count its leads. The table shows the
            newest 100 unless --limit says otherwise; csv and json export every
            request unless --limit is given.

            Examples:
              leadsync attempts
              leadsync attempts --project acme --limit 20
              leadsync attempts --format json | jq 'map(select(.outcome != "ok"))'
            """
    )

    static let tableLimit = 100

    @OptionGroup var list: ListOptions

    @Option(help: "Show at most N requests.")
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let format = list.format
        let project = list.project
        let limit = self.limit ?? (format == .table ? Self.tableLimit : nil)
        let out = StandardOutput()
        try await Admin.withConnection(doing: "attempts") { connection, logger in
            let lister = AttemptList(logger: logger)
            switch format {
            case .table:
                var rows: [AttemptRow] = []
                try await lister.forEach(on: connection, project: project, limit: limit) { rows.append($0) }
                let total = try await lister.count(on: connection, project: project)
                out.write(AttemptList.table(rows, total: total, style: Admin.style()))
            case .csv:
                out.write(AttemptList.csvHeader)
                try await lister.forEach(on: connection, project: project, limit: limit) {
                    out.write(AttemptList.csvRow($0))
                }
            case .json:
                var lines = JSONArrayLines()
                try await lister.forEach(on: connection, project: project, limit: limit) {
                    out.write(lines.next(AttemptList.jsonObject($0)))
                }
                out.write(lines.end())
            }
        }
        out.flush()
    }
}
