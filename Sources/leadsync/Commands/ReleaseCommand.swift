import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncCore

struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Put held leads back to pending, so the worker sends them again.",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            Without options every held lead of every project is released. Leads held for
            retries_exhausted get a fresh round of attempts. A paused project's released
            leads still wait for leadsync project resume.
            Reasons: \(HeldReason.allCases.map(\.rawValue).joined(separator: ", ")).

            Examples:
              leadsync release --project acme --reason bad_request
              leadsync release --reason retries_exhausted
            """
    )

    @Option(help: "Only this project.")
    var project: String?

    @Option(help: "Only leads held for this reason.")
    var reason: String?

    func validate() throws {
        if let reason, HeldReason(rawValue: reason) == nil {
            throw ValidationError(
                "unknown held reason '\(reason)'; one of: \(HeldReason.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
    }

    func run() async throws {
        let result = try await Admin.withConnection(doing: "release") { connection, logger in
            try await Release(logger: logger).run(
                project: project, reason: reason.flatMap(HeldReason.init(rawValue:)), on: connection)
        }
        FileHandle.standardOutput.write(Data(Release.summary(result, style: Admin.style()).utf8))
    }
}
