import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import WireJSON

/// A held lead: why, since when (its last update), and what it last heard.
public struct HeldLeadRow: Sendable, Equatable {
    public var leadId: Int64
    public var projectId: String
    public var reason: String
    public var heldSince: Date
    public var attemptCount: Int
    public var lastError: String?
    public var phone: String?
    public var processId: String?
    public var referenceId: String?

    init(_ r: ConsoleQueries.HeldLeadRow) {
        leadId = r.leadId
        projectId = r.projectId
        reason = r.heldReason
        heldSince = r.heldSince
        attemptCount = r.attemptCount
        lastError = r.lastError
        phone = r.phone
        processId = r.processId
        referenceId = r.referenceId
    }
}

/// Held leads by project and reason (docs/contract.md §2.2), as the console lists and
/// exports them, in the formats `leadsync invalid` uses (CSV RFC 4180, JSON with stable keys).
public struct HeldList: Sendable {
    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// One page: at most `limit` held leads with ids below `before`, newest id first.
    public func page(
        on connection: PostgresConnection, project: String?, reason: String?, before: Int64?, limit: Int
    ) async throws -> [HeldLeadRow] {
        return try await connection.rows(
            ConsoleQueries.heldPage(
                only: project, reason: reason, allReasons: HeldReason.allCases.map(\.rawValue),
                before: before ?? .max, limit: limit),
            logger: logger
        ).map(HeldLeadRow.init)
    }

    /// Every held lead under the filter, in id order, streamed.
    public func forEachAsync(
        isolation: isolated (any Actor)? = #isolation, on connection: PostgresConnection, project: String?,
        reason: String?, _ body: (HeldLeadRow) async throws -> Void
    ) async throws {
        try await requireProject(project, on: connection, logger: logger)
        try await connection.forEachRowAsync(ConsoleQueries.heldLeads(only: project, reason: reason), logger: logger) {
            try await body(HeldLeadRow($0))
        }
    }

    // MARK: formats

    public static let csvHeader = CSV.record([
        "lead_id", "project_id", "held_reason", "held_since", "attempt_count", "phone", "process_id", "reference_id",
        "last_error",
    ])

    public static func csvRow(_ r: HeldLeadRow) -> String {
        CSV.record([
            "\(r.leadId)", r.projectId, r.reason, Timestamp.format(r.heldSince), "\(r.attemptCount)", r.phone,
            r.processId, r.referenceId, r.lastError,
        ])
    }

    public static func jsonObject(_ r: HeldLeadRow) -> String {
        var w = JSONWriter(reservingCapacity: 256)
        w.beginObject()
        w.field("lead_id", int64: r.leadId)
        w.field("project_id", string: r.projectId)
        w.field("held_reason", string: r.reason)
        w.field("held_since", date: r.heldSince)
        w.field("attempt_count", int: r.attemptCount)
        w.field("phone", string: r.phone)
        w.field("process_id", string: r.processId)
        w.field("reference_id", string: r.referenceId)
        w.field("last_error", string: r.lastError)
        w.endObject()
        return w.text
    }
}
