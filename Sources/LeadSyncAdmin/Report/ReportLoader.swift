import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO

/// Builds a `Report` from a handful of aggregate queries (one per concern, each grouped by
/// project), so its cost follows the number of projects, not of leads.
public struct ReportLoader: Sendable {
    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// - Parameters:
    ///   - project: one project, or nil for all.
    ///   - now: the instant to report at; nil takes the database's clock.
    public func load(
        on connection: PostgresConnection, project: String?, since: Duration, sinceText: String, now: Date? = nil
    ) async throws -> Report {
        let now = try await resolveNow(now, on: connection)
        let sinceDate = now.addingTimeInterval(-since.secondsValue)
        var byId: [String: ProjectReport] = [:]
        var order: [String] = []

        for try await (id, paused, reason, until, _, _, _, _, _) in try await connection.query(
            ReportQueries.projects(only: project, now: now), logger: logger
        ).decode((String, Bool, String?, Date?, Int, Int64, Int, Int, Int).self) {
            var report = ProjectReport(projectId: id)
            report.paused = paused
            report.pauseReason = paused ? reason : nil
            report.pausedUntil = paused ? until : nil
            byId[id] = report
            order.append(id)
        }
        if let project, byId[project] == nil { throw AdminError.unknownProject(project) }

        // Rows of a project created since the first query are left out, not invented.
        func update(_ id: String, _ body: (inout ProjectReport) -> Void) {
            if var report = byId[id] {
                body(&report)
                byId[id] = report
            }
        }

        var pendingTotal: [String: Int] = [:]
        for try await (id, status, count) in try await connection.query(
            ReportQueries.leadCountsByState(only: project), logger: logger
        ).decode((String, String, Int).self) {
            update(id) { report in
                switch LeadState(rawValue: status) {
                case .pending: pendingTotal[id, default: 0] += count
                case .submitted: report.leads.submitted += count
                case .invalid: report.leads.invalid += count
                case .held: report.leads.held += count
                case .cancelled: report.leads.cancelled += count
                case nil: break
                }
            }
        }
        for try await (id, count) in try await connection.query(
            ReportQueries.inFlightCounts(only: project), logger: logger
        ).decode((String, Int).self) {
            update(id) { $0.leads.inFlight += count }
            pendingTotal[id, default: 0] -= count
        }
        for try await (id, count) in try await connection.query(
            ReportQueries.retryingCounts(only: project, now: now), logger: logger
        ).decode((String, Int).self) {
            update(id) { $0.leads.retrying = count }
            pendingTotal[id, default: 0] -= count
        }
        for (id, count) in pendingTotal { update(id) { $0.leads.pending = max(0, count) } }

        for try await (id, reason, count) in try await connection.query(
            ReportQueries.heldCountsByReason(only: project), logger: logger
        ).decode((String, String, Int).self) {
            update(id) { $0.heldByReason[reason] = count }
        }
        for try await (id, reason, count, recent) in try await connection.query(
            ReportQueries.invalidCountsByReason(only: project, since: sinceDate), logger: logger
        ).decode((String, String, Int, Int).self) {
            update(id) { report in
                report.invalidByReason[reason] = count
                report.invalidSince += recent
            }
        }
        for try await (id, oldest, lastSuccess) in try await connection.query(
            ReportQueries.oldestPendingAndLastSuccess(only: project), logger: logger
        ).decode((String, Date?, Date?).self) {
            update(id) { report in
                report.oldestPendingAt = oldest
                report.lastSuccessAt = lastSuccess
            }
        }
        for try await (id, outcome, requests, accepted, rejected, unconfirmed) in try await connection.query(
            ReportQueries.attemptCountsByOutcome(only: project, since: sinceDate), logger: logger
        ).decode((String, String, Int, Int, Int, Int).self) {
            update(id) { report in
                report.requests.byOutcome[outcome.isEmpty ? "open" : outcome] += requests
                report.requests.accepted += accepted
                report.requests.rejected += rejected
                report.requests.unconfirmed += unconfirmed
            }
        }
        return Report(
            generatedAt: now, sinceText: sinceText, since: since, projects: order.compactMap { byId[$0] })
    }
}

/// The instant a command works at: the one given (tests), else the database's clock.
func resolveNow(_ now: Date?, on connection: PostgresConnection) async throws -> Date {
    if let now { return now }
    let logger = Logger(label: "leadsync.admin")
    guard let date = try await connection.query(ReportQueries.now, logger: logger).collect().first?.decode(Date.self)
    else { throw AdminError(.failed, "the database did not tell the time") }
    return date
}

/// Fails with a clear line when `project` names no project.
func requireProject(_ project: String?, on connection: PostgresConnection, logger: Logger) async throws {
    guard let project else { return }
    let count =
        try await connection.query(ReportQueries.projectExists(project), logger: logger).collect().first?.decode(
            Int.self) ?? 0
    if count == 0 { throw AdminError.unknownProject(project) }
}
