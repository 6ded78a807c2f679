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

        try await connection.forEachRow(ReportQueries.projects(only: project, now: now), logger: logger) { row in
            var report = ProjectReport(projectId: row.projectId)
            report.paused = row.paused
            report.pauseReason = row.paused ? row.pauseReason : nil
            report.pausedUntil = row.paused ? row.pausedUntil : nil
            byId[row.projectId] = report
            order.append(row.projectId)
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
        for row in try await connection.rows(ReportQueries.leadCountsByState(only: project), logger: logger) {
            let (id, count) = (row.projectId, row.count)
            update(id) { report in
                switch LeadState(rawValue: row.key) {
                case .pending: pendingTotal[id, default: 0] += count
                case .submitted: report.leads.submitted += count
                case .invalid: report.leads.invalid += count
                case .held: report.leads.held += count
                case .cancelled: report.leads.cancelled += count
                case nil: break
                }
            }
        }
        for row in try await connection.rows(ReportQueries.inFlightCounts(only: project), logger: logger) {
            update(row.projectId) { $0.leads.inFlight += row.count }
            pendingTotal[row.projectId, default: 0] -= row.count
        }
        for row in try await connection.rows(ReportQueries.retryingCounts(only: project, now: now), logger: logger) {
            update(row.projectId) { $0.leads.retrying = row.count }
            pendingTotal[row.projectId, default: 0] -= row.count
        }
        for (id, count) in pendingTotal { update(id) { $0.leads.pending = max(0, count) } }

        for row in try await connection.rows(ReportQueries.heldCountsByReason(only: project), logger: logger) {
            update(row.projectId) { $0.heldByReason[row.key] = row.count }
        }
        for row in try await connection.rows(
            ReportQueries.invalidCountsByReason(only: project, since: sinceDate), logger: logger)
        {
            update(row.projectId) { report in
                report.invalidByReason[row.reason] = row.count
                report.invalidSince += row.countSince
            }
        }
        for row in try await connection.rows(ReportQueries.oldestPendingAndLastSuccess(only: project), logger: logger) {
            update(row.projectId) { report in
                report.oldestPendingAt = row.oldestPendingAt
                report.lastSuccessAt = row.lastSuccessAt
            }
        }
        for row in try await connection.rows(
            ReportQueries.attemptCountsByOutcome(only: project, since: sinceDate), logger: logger)
        {
            update(row.projectId) { report in
                report.requests.byOutcome[row.outcome.isEmpty ? "open" : row.outcome] += row.requests
                report.requests.accepted += row.accepted
                report.requests.rejected += row.rejected
                report.requests.unconfirmed += row.unconfirmed
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
    guard let date = try await connection.firstRow(ReportQueries.now, logger: logger) else {
        throw AdminError(.failed, "the database did not tell the time")
    }
    return date
}

/// Fails with a clear line when `project` names no project.
func requireProject(_ project: String?, on connection: PostgresConnection, logger: Logger) async throws {
    guard let project else { return }
    let count = try await connection.firstRow(ReportQueries.projectExists(project), logger: logger) ?? 0
    if count == 0 { throw AdminError.unknownProject(project) }
}
