import Foundation
import LeadSyncAdmin
import LeadSyncCore
import Logging
import PostgresNIO

/// The console's actions: the operator commands' own work (`ProjectAdmin`, `Release`,
/// `Resubmit`), so a click does exactly what the command does.
enum ConsoleAction: String, CaseIterable, Sendable {
    case pause, resume, release, resubmit

    struct Outcome: Sendable {
        var target: String
        var summary: String
        var back: String
    }

    func perform(_ fields: FormFields, on connection: PostgresConnection, logger: Logger) async throws -> Outcome {
        func project() throws -> String {
            guard let project = fields["project"] else {
                throw AdminError(.refused, "which project? (a project field)")
            }
            return project
        }
        switch self {
        case .pause:
            let id = try project()
            let line = try await ProjectAdmin(logger: logger).pause(id, reason: fields["reason"], on: connection)
            return Outcome(target: id, summary: line, back: HTMLText.link("/project", [("id", id)]))
        case .resume:
            let id = try project()
            let resumed = try await ProjectAdmin(logger: logger).resume(id, on: connection)
            return Outcome(
                target: id, summary: ProjectAdmin.resumeSummary(id, resumed),
                back: HTMLText.link("/project", [("id", id)]))
        case .release:
            let id = fields["project"]
            var reason: HeldReason?
            if let text = fields["reason"] {
                guard let known = HeldReason(rawValue: text) else {
                    throw AdminError(.refused, "unknown held reason '\(text)'")
                }
                reason = known
            }
            let result = try await Release(logger: logger).run(project: id, reason: reason, on: connection)
            var summary =
                result.total == 0
                ? "No held leads matched; nothing released."
                : "Released \(result.total) held lead\(result.total == 1 ? "" : "s") to pending ("
                    + result.lines.map { "\($0.projectId) \($0.reason) \($0.count)" }.joined(separator: ", ") + ")."
            for paused in result.pausedProjects {
                summary += " Project \(paused) is paused: its leads wait until it is resumed."
            }
            return Outcome(
                target: id ?? "all projects", summary: summary,
                back: id.map { HTMLText.link("/project", [("id", $0)]) } ?? "/held")
        case .resubmit:
            guard let text = fields["id"], let id = Int64(text) else {
                throw AdminError(.refused, "which lead? (an id field)")
            }
            // A field left as it was keeps the original's value; an emptied one clears it.
            let changes = Resubmit.Changes(phone: fields.values["phone"], processId: fields.values["process_id"])
            let original = try await LeadDetail.load(id, on: connection, logger: logger).record.lead
            let effective = Resubmit.Changes(
                phone: changes.phone == (original.phone ?? "") ? nil : changes.phone,
                processId: changes.processId == (original.processId ?? "") ? nil : changes.processId)
            let result = try await Resubmit(logger: logger).run(id, changes: effective, on: connection)
            return Outcome(target: "lead \(id)", summary: result.summary, back: "/lead?id=\(result.newId)")
        }
    }
}
