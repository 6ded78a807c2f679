import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO

/// `leadsync release`: held leads back to `pending` (docs/contract.md §2), by project and reason.
/// Leads held for `retries_exhausted` get a fresh round of attempts. A paused project's
/// released leads wait until it is resumed: the summary says so.
public struct Release: Sendable {
    public struct Result: Sendable, Equatable {
        public struct Line: Sendable, Equatable {
            public var projectId: String
            public var reason: String
            public var count: Int
        }

        public var lines: [Line]
        /// Projects among the released ones that are paused.
        public var pausedProjects: [String]

        public var total: Int { lines.reduce(0) { $0 + $1.count } }
    }

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run(project: String?, reason: HeldReason?, on connection: PostgresConnection) async throws -> Result {
        try await requireProject(project, on: connection, logger: logger)
        let reasons = reason.map { [$0.rawValue] } ?? HeldReason.allCases.map(\.rawValue)
        let lines = try await connection.rows(LeadQueries.releaseHeld(only: project, reasons: reasons), logger: logger)
            .map { Result.Line(projectId: $0.projectId, reason: $0.heldReason, count: $0.count) }
        var paused: [String] = []
        let touched = Set(lines.map(\.projectId))
        if !touched.isEmpty {
            let now = try await resolveNow(nil, on: connection)
            try await connection.forEachRow(ReportQueries.projects(only: nil, now: now), logger: logger) {
                if $0.paused && touched.contains($0.projectId) { paused.append($0.projectId) }
            }
        }
        return Result(lines: lines, pausedProjects: paused)
    }

    public static func summary(_ result: Result, style: TerminalStyle = .plain) -> String {
        guard result.total > 0 else { return "no held leads matched; nothing released\n" }
        var t = TextTable([.init("PROJECT"), .init("REASON"), .init("RELEASED", .right)])
        for line in result.lines { t.append([line.projectId, line.reason, "\(line.count)"]) }
        var out = t.render(style: style)
        out += "released \(result.total) held lead\(result.total == 1 ? "" : "s") to pending\n"
        for project in result.pausedProjects {
            out +=
                style.apply(
                    .yellow,
                    "note: project \(project) is paused; its leads wait until leadsync project resume \(project)")
                + "\n"
        }
        return out
    }
}
