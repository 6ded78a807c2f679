import Foundation
import LeadSyncStore
import Logging
import PostgresNIO
import WireJSON

/// `leadsync attempts`: one row per HTTP request, newest first.
public struct AttemptRow: Sendable, Equatable {
    public var id: Int64
    public var projectId: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var leads: Int
    public var httpStatus: Int?
    /// nil while the request is still out.
    public var outcome: String?
    public var accepted: Int
    public var rejected: Int
    public var unconfirmed: Int
    public var durationMs: Int64?
    public var workerId: String
    public var error: String?

    public init(
        id: Int64, projectId: String, startedAt: Date, finishedAt: Date?, leads: Int, httpStatus: Int?,
        outcome: String?, accepted: Int, rejected: Int, unconfirmed: Int, durationMs: Int64?, workerId: String,
        error: String?
    ) {
        self.id = id
        self.projectId = projectId
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.leads = leads
        self.httpStatus = httpStatus
        self.outcome = outcome
        self.accepted = accepted
        self.rejected = rejected
        self.unconfirmed = unconfirmed
        self.durationMs = durationMs
        self.workerId = workerId
        self.error = error
    }
}

public struct AttemptList: Sendable {
    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func count(on connection: PostgresConnection, project: String?) async throws -> Int {
        try await connection.firstRow(ReportQueries.attemptCount(only: project), logger: logger) ?? 0
    }

    public func forEach(
        on connection: PostgresConnection, project: String?, limit: Int?, _ body: (AttemptRow) throws -> Void
    ) async throws {
        try await requireProject(project, on: connection, logger: logger)
        try await connection.forEachRow(ReportQueries.attempts(only: project, limit: limit), logger: logger) { r in
            try body(
                AttemptRow(
                    id: r.id, projectId: r.projectId, startedAt: r.startedAt, finishedAt: r.finishedAt,
                    leads: r.leadCount, httpStatus: r.httpStatus, outcome: r.outcome, accepted: r.successCount,
                    rejected: r.errorCount, unconfirmed: r.unconfirmedCount, durationMs: r.durationMs,
                    workerId: r.workerId, error: r.error))
        }
    }

    // MARK: formats

    public static let csvHeader = CSV.record([
        "attempt_id", "project_id", "started_at", "finished_at", "leads", "http_status", "outcome", "accepted",
        "rejected", "unconfirmed", "duration_ms", "worker_id", "error",
    ])

    public static func csvRow(_ a: AttemptRow) -> String {
        CSV.record([
            "\(a.id)", a.projectId, Timestamp.format(a.startedAt), a.finishedAt.map(Timestamp.format), "\(a.leads)",
            a.httpStatus.map { "\($0)" }, a.outcome ?? "open", "\(a.accepted)", "\(a.rejected)", "\(a.unconfirmed)",
            a.durationMs.map { "\($0)" }, a.workerId, a.error,
        ])
    }

    public static func jsonObject(_ a: AttemptRow) -> String {
        var w = JSONWriter(reservingCapacity: 256)
        w.beginObject()
        w.field("attempt_id", int64: a.id)
        w.field("project_id", string: a.projectId)
        w.field("started_at", date: a.startedAt)
        w.field("finished_at", date: a.finishedAt)
        w.field("leads", int: a.leads)
        w.field("http_status", int: a.httpStatus)
        w.field("outcome", string: a.outcome ?? "open")
        w.field("accepted", int: a.accepted)
        w.field("rejected", int: a.rejected)
        w.field("unconfirmed", int: a.unconfirmed)
        w.field("duration_ms", int64: a.durationMs)
        w.field("worker_id", string: a.workerId)
        w.field("error", string: a.error)
        w.endObject()
        return w.text
    }

    /// The error column is cut to this many characters in the table (JSON and CSV carry it whole).
    static let tableErrorWidth = 60

    public static func table(_ rows: [AttemptRow], total: Int, style: TerminalStyle = .plain) -> String {
        if rows.isEmpty { return "no requests yet\n" }
        var t = TextTable([
            .init("ATTEMPT", .right), .init("STARTED"), .init("PROJECT"), .init("LEADS", .right), .init("HTTP", .right),
            .init("OUTCOME"), .init("ACCEPTED", .right), .init("REJECTED", .right), .init("UNCONFIRMED", .right),
            .init("DURATION", .right), .init("ERROR"),
        ])
        for a in rows {
            let outcome = a.outcome ?? "open"
            let color: TerminalStyle.Color? =
                switch outcome {
                case "ok": .green
                case "partial", "rejected", "rate_limited", "open", "batch_too_large": .yellow
                default: .red
                }
            var error = a.error.map(TextTable.sanitize) ?? ""
            if error.count > tableErrorWidth { error = String(error.prefix(tableErrorWidth - 1)) + "…" }
            t.append([
                .init("\(a.id)"), .init(Timestamp.format(a.startedAt)), .init(a.projectId), .init("\(a.leads)"),
                .init(a.httpStatus.map { "\($0)" } ?? "-"), .init(outcome, color), .init("\(a.accepted)"),
                .init("\(a.rejected)"), .init("\(a.unconfirmed)"),
                .init(a.durationMs.map(DurationText.formatElapsed) ?? "-"), .init(error),
            ])
        }
        var out = t.render(style: style)
        if rows.count < total {
            out +=
                "showing the newest \(rows.count) of \(total); --limit N shows more, --format csv or json exports all\n"
        }
        return out
    }
}
