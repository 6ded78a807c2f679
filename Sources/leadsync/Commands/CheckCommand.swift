import ArgumentParser
import Foundation
import LeadSyncAdmin

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Dry run of the local pre-validation: which pending leads would be invalid, and why.",
        discussion: """
            Runs as a member of leadsync_reader (README, Security).

            Runs the worker's local rules over every pending lead: phone format,
            repeating digits, metadata size, and duplicates (the same normalized phone
            held by a live lead of the project, or on an earlier pending lead).
            Counts by reason; nothing is written, claimed or sent.

            Examples:
              leadsync check
              leadsync check --project acme --format json
            """
    )

    @OptionGroup var list: ListOptions

    func run() async throws {
        let results = try await Admin.withConnection(doing: "check") { connection, logger in
            try await PreCheck(logger: logger).run(project: list.project, on: connection)
        }
        let output = PreCheck.render(results, list.format, style: Admin.style(for: list.format))
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
