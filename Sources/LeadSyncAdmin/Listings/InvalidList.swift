import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import WireJSON

/// `leadsync invalid`: the invalid markers with the API's message verbatim.
public struct InvalidLeadRow: Sendable, Equatable {
    public var leadId: Int64
    public var projectId: String
    public var reason: String
    public var source: String
    public var attemptId: Int64?
    public var markedAt: Date
    public var message: String
    public var phone: String?
    public var processId: String?
    public var referenceId: String?

    public init(
        leadId: Int64, projectId: String, reason: String, source: String, attemptId: Int64?, markedAt: Date,
        message: String, phone: String?, processId: String?, referenceId: String?
    ) {
        self.leadId = leadId
        self.projectId = projectId
        self.reason = reason
        self.source = source
        self.attemptId = attemptId
        self.markedAt = markedAt
        self.message = message
        self.phone = phone
        self.processId = processId
        self.referenceId = referenceId
    }
}

extension InvalidLeadRow {
    init(_ r: ReportQueries.InvalidLeadRow) {
        self.init(
            leadId: r.leadId, projectId: r.projectId, reason: r.reason, source: r.source, attemptId: r.attemptId,
            markedAt: r.markedAt, message: r.message, phone: r.phone, processId: r.processId,
            referenceId: r.referenceId)
    }
}

public struct InvalidList: Sendable {
    public struct Filter: Sendable {
        public var project: String?
        public var reason: String?
        public var limit: Int?

        public init(project: String? = nil, reason: String? = nil, limit: Int? = nil) {
            self.project = project
            self.reason = reason
            self.limit = limit
        }
    }

    public struct ReasonTotal: Sendable, Equatable {
        public var reason: String
        public var source: String
        public var count: Int
    }

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Counts by reason under the filter (the table's summary).
    public func totals(on connection: PostgresConnection, filter: Filter) async throws -> [ReasonTotal] {
        try await connection.rows(
            ReportQueries.invalidReasonTotals(only: filter.project, reason: filter.reason), logger: logger
        ).map { ReasonTotal(reason: $0.reason, source: $0.source, count: $0.count) }
    }

    /// Streams the rows, newest first, so a full export never sits in memory.
    public func forEach(
        on connection: PostgresConnection, filter: Filter, _ body: (InvalidLeadRow) throws -> Void
    ) async throws {
        try await requireProject(filter.project, on: connection, logger: logger)
        try await connection.forEachRow(
            ReportQueries.invalidLeads(only: filter.project, reason: filter.reason, limit: filter.limit),
            logger: logger
        ) { try body(InvalidLeadRow($0)) }
    }

    /// The rows as `forEach`, handed to an async body (the console streams its export).
    public func forEachAsync(
        isolation: isolated (any Actor)? = #isolation, on connection: PostgresConnection, filter: Filter,
        _ body: (InvalidLeadRow) async throws -> Void
    ) async throws {
        try await requireProject(filter.project, on: connection, logger: logger)
        try await connection.forEachRowAsync(
            ReportQueries.invalidLeads(only: filter.project, reason: filter.reason, limit: filter.limit),
            logger: logger
        ) { try await body(InvalidLeadRow($0)) }
    }

    /// One page of the console's list: at most `limit` markers with lead ids below `before`,
    /// newest id first (docs/operating.md §19; index probes, never a scan).
    public func page(
        on connection: PostgresConnection, project: String?, reason: String?, before: Int64?, limit: Int
    ) async throws -> [InvalidLeadRow] {
        return try await connection.rows(
            ConsoleQueries.invalidPage(
                only: project, reason: reason, allReasons: InvalidReason.allCases.map(\.rawValue),
                before: before ?? .max, limit: limit),
            logger: logger
        ).map(InvalidLeadRow.init)
    }

    // MARK: formats

    public static let csvHeader = CSV.record([
        "lead_id", "project_id", "reason", "source", "attempt_id", "marked_at", "phone", "process_id", "reference_id",
        "message",
    ])

    public static func csvRow(_ r: InvalidLeadRow) -> String {
        CSV.record([
            "\(r.leadId)", r.projectId, r.reason, r.source, r.attemptId.map { "\($0)" }, Timestamp.format(r.markedAt),
            r.phone, r.processId, r.referenceId, r.message,
        ])
    }

    public static func jsonObject(_ r: InvalidLeadRow) -> String {
        var w = JSONWriter(reservingCapacity: 256)
        w.beginObject()
        w.field("lead_id", int64: r.leadId)
        w.field("project_id", string: r.projectId)
        w.field("reason", string: r.reason)
        w.field("source", string: r.source)
        w.field("attempt_id", int64: r.attemptId)
        w.field("marked_at", date: r.markedAt)
        w.field("phone", string: r.phone)
        w.field("process_id", string: r.processId)
        w.field("reference_id", string: r.referenceId)
        w.field("message", string: r.message)
        w.endObject()
        return w.text
    }

    /// Counts by reason on top, then the leads, newest first.
    public static func table(
        totals: [ReasonTotal], rows: [InvalidLeadRow], style: TerminalStyle = .plain
    ) -> String {
        let all = totals.reduce(0) { $0 + $1.count }
        if all == 0 { return "no invalid leads\n" }
        var summary = TextTable([.init("REASON"), .init("SOURCE"), .init("LEADS", .right)])
        for t in totals { summary.append([t.reason, t.source, "\(t.count)"]) }
        summary.append([.init("TOTAL", .bold), "", .init("\(all)")])
        var out = style.apply(.bold, "Invalid leads by reason") + "\n" + summary.render(style: style)
        var list = TextTable([
            .init("LEAD", .right), .init("PROJECT"), .init("REASON"), .init("SOURCE"), .init("ATTEMPT", .right),
            .init("MARKED AT"), .init("PHONE"), .init("MESSAGE"),
        ])
        for r in rows {
            list.append([
                "\(r.leadId)", r.projectId, r.reason, r.source, r.attemptId.map { "\($0)" } ?? "-",
                Timestamp.format(r.markedAt), r.phone ?? "-", r.message,
            ])
        }
        out += "\n" + style.apply(.bold, "Invalid leads, newest first") + "\n" + list.render(style: style)
        if rows.count < all {
            out +=
                "showing \(rows.count) of \(all); --limit N shows more, --format csv or json exports all\n"
        }
        return out
    }
}
