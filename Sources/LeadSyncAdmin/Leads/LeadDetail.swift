import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import WireJSON

/// A `leadsync.leads` row with every column, as `lead show` and `lead resubmit` read it.
public struct LeadRecord: Sendable, Equatable {
    public var lead: Lead
    public var status: String
    public var nextAttemptAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var submittedAt: Date?
    public var remoteId: String?
    public var lastError: String?
    public var heldReason: String?
    public var resubmitOf: Int64?

    init(_ row: ReportQueries.LeadDetailRow) {
        lead = row.lead
        status = row.status
        nextAttemptAt = row.nextAttemptAt
        createdAt = row.createdAt
        updatedAt = row.updatedAt
        submittedAt = row.submittedAt
        remoteId = row.remoteId
        lastError = row.lastError
        heldReason = row.heldReason
        resubmitOf = row.resubmitOf
    }
}

/// `leadsync lead show ID`: the lead, its whole history, its marker or held reason, and
/// the leads that replaced it or that it replaced.
public struct LeadDetail: Sendable, Equatable {
    public struct HistoryRow: Sendable, Equatable {
        public var attemptId: Int64
        public var startedAt: Date
        public var finishedAt: Date?
        public var httpStatus: Int?
        public var outcome: String?
        public var result: String
        public var message: String?
    }

    public struct Marker: Sendable, Equatable {
        public var reason: String
        public var source: String
        public var message: String
        public var attemptId: Int64?
        public var markedAt: Date
    }

    public var record: LeadRecord
    public var history: [HistoryRow]
    /// The request carrying the lead right now (the worker keeps it `pending` meanwhile).
    public var openAttempt: (id: Int64, startedAt: Date)?
    public var marker: Marker?
    /// Corrected copies of this lead (`resubmit_of` = this id), oldest first.
    public var replacedBy: [(id: Int64, status: String)]
    /// Which lead holds this lead's normalized phone in its project (local dedupe), if any.
    public var phoneHolder: (id: Int64, status: String)?

    public static func == (a: LeadDetail, b: LeadDetail) -> Bool {
        a.record == b.record && a.history == b.history && a.openAttempt?.id == b.openAttempt?.id
            && a.marker == b.marker && a.replacedBy.map(\.id) == b.replacedBy.map(\.id)
            && a.phoneHolder?.id == b.phoneHolder?.id
    }

    /// The state as the report counts it: `in_flight` while a request carries it.
    public var displayStatus: String {
        if record.status == LeadState.pending.rawValue {
            if openAttempt != nil { return "pending (in flight)" }
            if record.nextAttemptAt != nil { return "pending (retry)" }
        }
        return record.status
    }

    public static func load(_ id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> LeadDetail {
        guard let row = try await connection.firstRow(ReportQueries.lead(id), logger: logger) else {
            throw AdminError(.notFound, "no lead \(id)")
        }
        let record = LeadRecord(row)
        let history = try await connection.rows(ReportQueries.leadHistory(id), logger: logger).map {
            HistoryRow(
                attemptId: $0.attemptId, startedAt: $0.startedAt, finishedAt: $0.finishedAt, httpStatus: $0.httpStatus,
                outcome: $0.outcome, result: $0.result, message: $0.message)
        }
        let open = try await connection.firstRow(ReportQueries.openAttempt(carrying: id), logger: logger)
        let marker = try await connection.firstRow(ReportQueries.invalidMarker(id), logger: logger).map {
            Marker(
                reason: $0.reason, source: $0.source, message: $0.message, attemptId: $0.attemptId,
                markedAt: $0.markedAt)
        }
        let replacedBy = try await connection.rows(ReportQueries.resubmits(of: id), logger: logger)
        var holder: ReportQueries.LeadStatusRow?
        if let key = record.lead.phoneKey {
            holder = try await connection.firstRow(
                ReportQueries.phoneHolder(project: record.lead.projectId, key: key), logger: logger)
        }
        return LeadDetail(
            record: record, history: history, openAttempt: open.map { (id: $0.id, startedAt: $0.startedAt) },
            marker: marker, replacedBy: replacedBy.map { (id: $0.id, status: $0.status) },
            phoneHolder: holder.map { (id: $0.id, status: $0.status) })
    }

    /// The leads a search names, ids ascending, at most `limit`: by id (digits, or the
    /// `ls-<id>` referenceId LeadSync sends for a lead without one), by `reference_id`, and by
    /// phone (the lead that holds the normalized number in each project, as the local dedupe
    /// judges it). Each is one index probe (docs/operating.md §19).
    public static func find(_ text: String, on connection: PostgresConnection, logger: Logger, limit: Int = 20)
        async throws -> [Int64]
    {
        let query = text.trimmingCharacters(in: .whitespaces)
        guard !query.isEmpty else { return [] }
        var ids = Set<Int64>()
        var idText = Substring(query)
        if idText.hasPrefix("ls-") { idText = idText.dropFirst(3) }
        if let id = Int64(idText), id > 0,
            try await connection.firstRow(ConsoleQueries.leadExists(id), logger: logger) != nil
        {
            ids.insert(id)
        }
        // Over the column's byte bound nothing can match (docs/contract.md §1.1).
        if query.utf8.count <= 200 {
            for id in try await connection.rows(ConsoleQueries.leadsByReference(query, limit: limit), logger: logger) {
                ids.insert(id)
            }
        }
        if let normalized = PhoneNumber.normalize(query) {
            let key = PhoneNumber.dedupeKey(normalized)
            for id in try await connection.rows(ConsoleQueries.leadsByPhoneKey(key), logger: logger) { ids.insert(id) }
        }
        return Array(ids.sorted().prefix(limit))
    }

    /// The lead's own fields, in the order `lead show` and the console's lead page show them
    /// (one list, so the two cannot drift apart).
    public var recordFields: [(name: String, value: String?)] {
        let lead = record.lead
        var fields: [(name: String, value: String?)] = [
            ("project", lead.projectId),
            ("process_id", lead.processId),
            ("group_id", lead.groupId),
            ("phone", lead.phone),
            ("email", lead.email),
            ("name", lead.name),
            ("first_name", lead.firstName),
            ("last_name", lead.lastName),
            ("reference_id", lead.referenceId),
            ("metadata", lead.metadata),
            ("init", lead.initialize ? "true" : "false"),
            ("remote_lead_id", lead.remoteLeadId),
            ("attempt_count", "\(lead.attemptCount)"),
            ("ambiguous", lead.ambiguous ? "true (an earlier request's outcome is unknown)" : "false"),
            ("next_attempt_at", record.nextAttemptAt.map(Timestamp.format)),
            ("created_at", Timestamp.format(record.createdAt)),
            ("updated_at", Timestamp.format(record.updatedAt)),
            ("submitted_at", record.submittedAt.map(Timestamp.format)),
            ("remote_id", record.remoteId),
            ("held_reason", record.heldReason),
            ("last_error", record.lastError),
        ]
        if let open = openAttempt {
            fields.append(("in_flight", "attempt \(open.id) since \(Timestamp.format(open.startedAt))"))
        }
        return fields
    }

    // MARK: formats

    public func table(style: TerminalStyle = .plain) -> String {
        let lead = record.lead
        var fields = TextTable([.init("FIELD"), .init("VALUE")])
        func add(_ name: String, _ value: String?, _ color: TerminalStyle.Color? = nil) {
            fields.append([.init(name), .init(value ?? "-", value == nil ? nil : color)])
        }
        let statusColor: TerminalStyle.Color? =
            switch record.status {
            case "submitted": .green
            case "invalid": .red
            case "held", "cancelled": .yellow
            default: nil
            }
        add("status", displayStatus, statusColor)
        for field in recordFields {
            add(field.name, field.value, field.name == "held_reason" ? .yellow : nil)
        }
        if let m = marker {
            add("invalid", "\(m.reason) (\(m.source)) at \(Timestamp.format(m.markedAt))", .red)
            add("invalid_message", m.message)
            add("invalid_attempt", m.attemptId.map { "\($0)" })
        }
        add("resubmit_of", record.resubmitOf.map { "lead \($0)" })
        add(
            "replaced_by",
            replacedBy.isEmpty ? nil : replacedBy.map { "lead \($0.id) (\($0.status))" }.joined(separator: ", "))
        if let holder = phoneHolder, holder.id != lead.id {
            add("phone_held_by", "lead \(holder.id) (\(holder.status.isEmpty ? "deleted" : holder.status))")
        }
        var out = style.apply(.bold, "Lead \(lead.id)") + "\n" + fields.render(style: style)
        out += "\n" + style.apply(.bold, "Attempts") + "\n"
        if history.isEmpty {
            out += "none\n"
        } else {
            var t = TextTable([
                .init("ATTEMPT", .right), .init("STARTED"), .init("HTTP", .right), .init("OUTCOME"), .init("RESULT"),
                .init("MESSAGE"),
            ])
            for h in history {
                t.append([
                    "\(h.attemptId)", Timestamp.format(h.startedAt), h.httpStatus.map { "\($0)" } ?? "-",
                    h.outcome ?? "open", h.result, h.message ?? "",
                ])
            }
            out += t.render(style: style)
        }
        return out
    }

    public func json() -> String {
        let lead = record.lead
        var w = JSONWriter(reservingCapacity: 1024)
        w.beginObject()
        w.field("id", int64: lead.id)
        w.field("project_id", string: lead.projectId)
        w.field("status", string: record.status)
        w.field("in_flight_attempt_id", int64: openAttempt?.id)
        w.field("process_id", string: lead.processId)
        w.field("group_id", string: lead.groupId)
        w.field("phone", string: lead.phone)
        w.field("email", string: lead.email)
        w.field("name", string: lead.name)
        w.field("first_name", string: lead.firstName)
        w.field("last_name", string: lead.lastName)
        w.field("reference_id", string: lead.referenceId)
        w.key("metadata")
        w.raw(lead.metadata.utf8)
        w.field("init", bool: lead.initialize)
        w.field("remote_lead_id", string: lead.remoteLeadId)
        w.field("attempt_count", int: lead.attemptCount)
        w.field("ambiguous", bool: lead.ambiguous)
        w.field("next_attempt_at", date: record.nextAttemptAt)
        w.field("created_at", date: record.createdAt)
        w.field("updated_at", date: record.updatedAt)
        w.field("submitted_at", date: record.submittedAt)
        w.field("remote_id", string: record.remoteId)
        w.field("held_reason", string: record.heldReason)
        w.field("last_error", string: record.lastError)
        w.key("invalid")
        if let m = marker {
            w.beginObject()
            w.field("reason", string: m.reason)
            w.field("source", string: m.source)
            w.field("message", string: m.message)
            w.field("attempt_id", int64: m.attemptId)
            w.field("marked_at", date: m.markedAt)
            w.endObject()
        } else {
            w.null()
        }
        w.field("resubmit_of", int64: record.resubmitOf)
        w.key("replaced_by")
        w.beginArray()
        for r in replacedBy {
            w.beginObject()
            w.field("id", int64: r.id)
            w.field("status", string: r.status)
            w.endObject()
        }
        w.endArray()
        w.field("phone_held_by", int64: phoneHolder.flatMap { $0.id == lead.id ? nil : $0.id })
        w.key("attempts")
        w.beginArray()
        for h in history {
            w.beginObject()
            w.field("attempt_id", int64: h.attemptId)
            w.field("started_at", date: h.startedAt)
            w.field("finished_at", date: h.finishedAt)
            w.field("http_status", int: h.httpStatus)
            w.field("outcome", string: h.outcome)
            w.field("result", string: h.result)
            w.field("message", string: h.message)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text + "\n"
    }
}
