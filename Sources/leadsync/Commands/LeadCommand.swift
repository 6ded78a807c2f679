import ArgumentParser
import Foundation
import LeadSyncAdmin

struct LeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lead",
        abstract: "Look at one lead, or send a corrected copy of it.",
        discussion: """
            Examples:
              leadsync lead show 42
              leadsync lead resubmit 42 --phone '+1 415 555 0101'
            """,
        subcommands: [LeadShowCommand.self, LeadResubmitCommand.self]
    )
}

struct LeadShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "The lead, its whole request history, its invalid marker or held reason, what replaced it.",
        discussion: """
            Runs as a member of leadsync_reader (README, Security).

            STATUS reads "pending (in flight)" while a request carries the lead and
            "pending (retry)" while it waits out a back-off.

            Examples:
              leadsync lead show 42
              leadsync lead show 42 --format json | jq .attempts
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }

    @Argument(help: "The lead's id.")
    var id: Int64

    @Option(help: "Output format: table or json.")
    var format: Format = .table

    func run() async throws {
        let detail = try await Admin.withConnection(doing: "lead show") { connection, logger in
            try await LeadDetail.load(id, on: connection, logger: logger)
        }
        let output = format == .json ? detail.json() : detail.table(style: Admin.style())
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

struct LeadResubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resubmit",
        abstract: "Insert a corrected copy of a lead as a new pending lead (resubmit_of = ID).",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            Uservox fixes a rejected lead by sending it again as a new lead. The
            copy takes every field of the original except those given here (an
            empty value clears a field) and must pass the local pre-check.
            The original:
              invalid, cancelled  stays as it is
              held                becomes cancelled, so the two are never both sent
            Pending and submitted leads are refused, as is a lead already
            resubmitted (resubmit its newest copy instead).

            Examples:
              leadsync lead resubmit 42 --phone '+1 415 555 0101'
              leadsync lead resubmit 42 --process-id onboarding-v2
              leadsync lead resubmit 42 --metadata '{"campaign": "spring"}' --email ''
            """
    )

    @Argument(help: "The lead's id.")
    var id: Int64

    @Option(help: "The corrected phone.")
    var phone: String?

    @Option(help: "The corrected processId.")
    var processId: String?

    @Option(help: "The corrected email.")
    var email: String?

    @Option(help: "The corrected name.")
    var name: String?

    @Option(help: "The corrected first name.")
    var firstName: String?

    @Option(help: "The corrected last name.")
    var lastName: String?

    @Option(help: "The corrected groupId.")
    var groupId: String?

    @Option(help: "The corrected referenceId.")
    var referenceId: String?

    @Option(help: "The corrected metadata, a JSON object.")
    var metadata: String?

    var changes: Resubmit.Changes {
        Resubmit.Changes(
            phone: phone, processId: processId, email: email, name: name, firstName: firstName, lastName: lastName,
            groupId: groupId, referenceId: referenceId, metadata: metadata)
    }

    func validate() throws {
        if let metadata, !metadata.isEmpty, let problem = Resubmit.metadataProblem(metadata) {
            throw ValidationError(problem)
        }
    }

    func run() async throws {
        let result = try await Admin.withConnection(doing: "lead resubmit") { connection, logger in
            try await Resubmit(logger: logger).run(id, changes: changes, on: connection)
        }
        print(result.summary)
    }
}
