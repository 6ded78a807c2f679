import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import WireJSON

/// A project's settings as `project list` shows them.
public struct ProjectRow: Sendable, Equatable {
    public var projectId: String
    public var paused: Bool
    public var pauseReason: String?
    public var pausedUntil: Date?
    public var rateLimitRequests: Int
    public var rateLimitWindowMs: Int64
    public var maxBatchSize: Int
    public var maxInFlight: Int
    public var maxAttempts: Int
    public var maxRequestBytes: Int

    public init(
        projectId: String, paused: Bool = false, pauseReason: String? = nil, pausedUntil: Date? = nil,
        rateLimitRequests: Int = ProjectDefaults.rateLimitRequests,
        rateLimitWindowMs: Int64 = ProjectDefaults.rateLimitWindow.millisecondsValue,
        maxBatchSize: Int = ProjectDefaults.maxBatchSize, maxInFlight: Int = ProjectDefaults.maxInFlight,
        maxAttempts: Int = ProjectDefaults.maxAttempts, maxRequestBytes: Int = ProjectDefaults.maxRequestBytes
    ) {
        self.maxRequestBytes = maxRequestBytes
        self.projectId = projectId
        self.paused = paused
        self.pauseReason = pauseReason
        self.pausedUntil = pausedUntil
        self.rateLimitRequests = rateLimitRequests
        self.rateLimitWindowMs = rateLimitWindowMs
        self.maxBatchSize = maxBatchSize
        self.maxInFlight = maxInFlight
        self.maxAttempts = maxAttempts
    }

    /// `100/5s`.
    public var rateText: String {
        let window =
            rateLimitWindowMs % 1000 == 0
            ? DurationText.format(.milliseconds(rateLimitWindowMs)) : "\(windowSeconds)s"
        return "\(rateLimitRequests)/\(window)"
    }

    /// The window in seconds, as JSON and CSV carry it (`5`, `0.5`).
    public var windowSeconds: String { JSONNumber.text(Double(rateLimitWindowMs) / 1000) }
}

/// `leadsync project list|pause|resume|set`.
///
/// Pausing stops the worker from sending for the project; its pending leads stay pending
/// (they wait, and the report's lag shows it). Resuming clears the pause and releases the
/// leads held because of the project itself: `project_paused`, `project_inactive` and
/// `token_mismatch` (the 403 answers that paused it). Leads held for `token_missing` come
/// back when the token does; `bad_request` and `retries_exhausted` need `leadsync release`.
public struct ProjectAdmin: Sendable {
    public static let releasedOnResume: [HeldReason] = [.projectPaused, .projectInactive, .tokenMismatch]

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func list(on connection: PostgresConnection, only project: String? = nil, now: Date? = nil) async throws
        -> [ProjectRow]
    {
        let now = try await resolveNow(now, on: connection)
        let rows = try await connection.rows(ReportQueries.projects(only: project, now: now), logger: logger).map {
            ProjectRow(
                projectId: $0.projectId, paused: $0.paused, pauseReason: $0.paused ? $0.pauseReason : nil,
                pausedUntil: $0.paused ? $0.pausedUntil : nil, rateLimitRequests: $0.rateLimitRequests,
                rateLimitWindowMs: $0.rateLimitWindowMs, maxBatchSize: $0.maxBatchSize, maxInFlight: $0.maxInFlight,
                maxAttempts: $0.maxAttempts, maxRequestBytes: $0.maxRequestBytes)
        }
        if let project, rows.isEmpty { throw AdminError.unknownProject(project) }
        return rows
    }

    public func pause(_ project: String, reason: String?, on connection: PostgresConnection) async throws -> String {
        let text = reason.flatMap { $0.isEmpty ? nil : $0 } ?? "paused by an operator"
        let rows = try await connection.rows(ProjectQueries.pauseByOperator(project, reason: text), logger: logger)
        if rows.isEmpty { throw AdminError.unknownProject(project) }
        return "paused project \(project) (\(text)); its leads wait until leadsync project resume \(project)"
    }

    public struct Resumed: Sendable, Equatable {
        public var wasPaused: Bool
        public var pauseReason: String?
        /// Released leads by their former held reason.
        public var released: [(String, Int)]

        public static func == (a: Resumed, b: Resumed) -> Bool {
            a.wasPaused == b.wasPaused && a.pauseReason == b.pauseReason
                && a.released.map(\.0) == b.released.map(\.0) && a.released.map(\.1) == b.released.map(\.1)
        }
    }

    /// Clears the pause and releases the project's leads held for the pause's causes, in one transaction.
    public func resume(_ project: String, on connection: PostgresConnection) async throws -> Resumed {
        let logger = self.logger
        return try await connection.withTransaction(logger: logger) { tx in
            guard let old = try await tx.firstRow(ProjectQueries.resume(project), logger: logger) else {
                throw AdminError.unknownProject(project)
            }
            let released = try await tx.rows(
                LeadQueries.releaseHeld(only: project, reasons: Self.releasedOnResume.map(\.rawValue)), logger: logger
            ).map { ($0.heldReason, $0.count) }
            return Resumed(
                wasPaused: old.wasPaused, pauseReason: old.wasPaused ? old.pauseReason : nil, released: released)
        }
    }

    public static func resumeSummary(_ project: String, _ r: Resumed) -> String {
        var line =
            r.wasPaused
            ? "resumed project \(project) (was paused: \(r.pauseReason ?? "no reason given"))"
            : "project \(project) was not paused"
        let total = r.released.reduce(0) { $0 + $1.1 }
        if total == 0 {
            line += "; no held leads to release"
        } else {
            line +=
                "; released \(total) held lead\(total == 1 ? "" : "s") ("
                + r.released.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"
        }
        return line
    }

    public struct Limits: Sendable, Equatable {
        public var rateLimitRequests: Int?
        public var rateLimitWindow: Duration?
        public var maxBatchSize: Int?
        public var maxInFlight: Int?
        public var maxAttempts: Int?
        public var maxRequestBytes: Int?

        public init(
            rateLimitRequests: Int? = nil, rateLimitWindow: Duration? = nil, maxBatchSize: Int? = nil,
            maxInFlight: Int? = nil, maxAttempts: Int? = nil, maxRequestBytes: Int? = nil
        ) {
            self.maxRequestBytes = maxRequestBytes
            self.rateLimitRequests = rateLimitRequests
            self.rateLimitWindow = rateLimitWindow
            self.maxBatchSize = maxBatchSize
            self.maxInFlight = maxInFlight
            self.maxAttempts = maxAttempts
        }

        public var isEmpty: Bool { self == Limits() }
    }

    public func set(_ project: String, _ limits: Limits, on connection: PostgresConnection) async throws -> ProjectRow {
        let rows = try await connection.rows(
            ProjectQueries.setLimits(
                project, rateLimitRequests: limits.rateLimitRequests,
                rateLimitWindowMs: limits.rateLimitWindow.map(\.millisecondsValue), maxBatchSize: limits.maxBatchSize,
                maxInFlight: limits.maxInFlight, maxAttempts: limits.maxAttempts,
                maxRequestBytes: limits.maxRequestBytes),
            logger: logger)
        if rows.isEmpty { throw AdminError.unknownProject(project) }
        guard let row = try await list(on: connection, only: project).first else {
            throw AdminError.unknownProject(project)
        }
        return row
    }

    // MARK: formats

    public static func table(_ rows: [ProjectRow], style: TerminalStyle = .plain) -> String {
        if rows.isEmpty { return "no projects yet (a project appears with its first lead)\n" }
        var t = TextTable([
            .init("PROJECT"), .init("STATE"), .init("RATE", .right), .init("MAX BATCH", .right),
            .init("MAX IN FLIGHT", .right), .init("MAX ATTEMPTS", .right), .init("MAX BYTES", .right),
            .init("PAUSED UNTIL"), .init("PAUSE REASON"),
        ])
        for p in rows {
            t.append([
                .init(p.projectId), p.paused ? .init("paused", .yellow) : .init("active", .green), .init(p.rateText),
                .init("\(p.maxBatchSize)"), .init("\(p.maxInFlight)"), .init("\(p.maxAttempts)"),
                .init("\(p.maxRequestBytes)"), .init(p.pausedUntil.map(Timestamp.format) ?? "-"),
                .init(p.pauseReason ?? "-"),
            ])
        }
        return t.render(style: style)
    }

    public static let csvHeader = CSV.record([
        "project_id", "paused", "pause_reason", "paused_until", "rate_limit_requests", "rate_limit_window_seconds",
        "max_batch_size", "max_in_flight", "max_attempts", "max_request_bytes",
    ])

    public static func csvRow(_ p: ProjectRow) -> String {
        CSV.record([
            p.projectId, p.paused ? "true" : "false", p.pauseReason, p.pausedUntil.map(Timestamp.format),
            "\(p.rateLimitRequests)", p.windowSeconds, "\(p.maxBatchSize)", "\(p.maxInFlight)", "\(p.maxAttempts)",
            "\(p.maxRequestBytes)",
        ])
    }

    public static func jsonObject(_ p: ProjectRow) -> String {
        var w = JSONWriter(reservingCapacity: 256)
        w.beginObject()
        w.field("project_id", string: p.projectId)
        w.field("paused", bool: p.paused)
        w.field("pause_reason", string: p.pauseReason)
        w.field("paused_until", date: p.pausedUntil)
        w.field("rate_limit_requests", int: p.rateLimitRequests)
        w.key("rate_limit_window_seconds")
        w.raw(p.windowSeconds.utf8)
        w.field("max_batch_size", int: p.maxBatchSize)
        w.field("max_in_flight", int: p.maxInFlight)
        w.field("max_attempts", int: p.maxAttempts)
        w.field("max_request_bytes", int: p.maxRequestBytes)
        w.endObject()
        return w.text
    }

    public static func render(_ rows: [ProjectRow], _ format: OutputFormat, style: TerminalStyle = .plain) -> String {
        switch format {
        case .table: return table(rows, style: style)
        case .csv: return csvHeader + rows.map(csvRow).joined()
        case .json:
            var lines = JSONArrayLines()
            return rows.map { lines.next(jsonObject($0)) }.joined() + lines.end()
        }
    }
}
