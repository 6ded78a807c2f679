import Foundation
import LeadSyncCore
import PostgresNIO

// The operator's reads (`leadsync report`, `invalid`, `attempts`, `lead`, `project`,
// `release`, `check`; docs/contract.md §7). Reads are aggregates per project, never per-lead
// work, so `report` stays fast on large tables. Writes live with their table's queries.
// A `project` of nil means every project; `now` is the clock the report is taken at.

/// Read-only aggregates and listings for the admin commands, each with its row type.
package enum ReportQueries {
    /// A project's settings and its effective pause, as `project list` and `report` show them.
    package struct ProjectRow: Sendable {
        package let projectId: String
        /// Paused at the report's instant (`leadsync.project_is_paused`, migration 0006).
        package let paused: Bool
        package let pauseReason: String?
        package let pausedUntil: Date?
        package let rateLimitRequests: Int
        package let rateLimitWindowMs: Int64
        package let maxBatchSize: Int
        package let maxInFlight: Int
        package let maxAttempts: Int
        package let maxRequestBytes: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            paused = try cells.next()
            pauseReason = try cells.next()
            pausedUntil = try cells.next()
            rateLimitRequests = try cells.next()
            rateLimitWindowMs = try cells.next()
            maxBatchSize = try cells.next()
            maxInFlight = try cells.next()
            maxAttempts = try cells.next()
            maxRequestBytes = try cells.next()
        }
    }

    /// ProjectsListWithSettings: every project (or one), with its effective pause.
    package static func projects(only project: String?, now: Date) -> RowQuery<ProjectRow> {
        RowQuery(
            """
            SELECT project_id, leadsync.project_is_paused(projects, \(now)), pause_reason, paused_until,
                   rate_limit_requests, (extract(epoch FROM rate_limit_window) * 1000)::int8,
                   max_batch_size, max_in_flight, max_attempts, max_request_bytes
            FROM leadsync.projects
            WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
            ORDER BY project_id
            """
        ) { try ProjectRow($0) }
    }

    /// ProjectsMaxRequestBytes: the byte budget `leadsync check` judges leads against.
    package static func maxRequestBytes(project: String) -> RowQuery<Int> {
        RowQuery("SELECT max_request_bytes FROM leadsync.projects WHERE project_id = \(project)") {
            try $0.decode(Int.self)
        }
    }

    /// ProjectsExists: how many project rows have this id (0 or 1).
    package static func projectExists(_ project: String) -> RowQuery<Int> {
        RowQuery("SELECT count(*)::int8 FROM leadsync.projects WHERE project_id = \(project)") {
            try $0.decode(Int.self)
        }
    }

    /// A count of something per project and a text key (a state, a reason).
    package struct KeyedCountRow: Sendable {
        package let projectId: String
        package let key: String
        package let count: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            key = try cells.next()
            count = try cells.next()
        }
    }

    /// A count of something per project.
    package struct ProjectCountRow: Sendable {
        package let projectId: String
        package let count: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            count = try cells.next()
        }
    }

    /// LeadCountsByProjectState: leads per project and state (`key`), summed from
    /// `lead_counts` (kept by triggers on `leads`), so the report never reads the leads themselves.
    package static func leadCountsByState(only project: String?) -> RowQuery<KeyedCountRow> {
        RowQuery(
            """
            SELECT project_id, status, sum(delta)::int8 FROM leadsync.lead_counts
            WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
            GROUP BY project_id, status HAVING sum(delta) <> 0
            """
        ) { try KeyedCountRow($0) }
    }

    /// LeadsCountHeldByReason: held leads per project and held reason (`key`), from `leads_held`.
    package static func heldCountsByReason(only project: String?) -> RowQuery<KeyedCountRow> {
        RowQuery(
            """
            SELECT project_id, held_reason, count(*)::int8 FROM leadsync.leads
            WHERE \(unescaped: ReadyLeads.held()) AND (\(project)::text IS NULL OR project_id = \(project)::text)
            GROUP BY project_id, held_reason
            """
        ) { try KeyedCountRow($0) }
    }

    /// LeadsCountRetrying: pending leads waiting out a retry back-off, per project, from
    /// `leads_retry`.
    package static func retryingCounts(only project: String?, now: Date) -> RowQuery<ProjectCountRow> {
        RowQuery(
            """
            SELECT project_id, count(*)::int8 FROM leadsync.leads
            WHERE \(unescaped: ReadyLeads.retrying()) AND next_attempt_at > \(now)
              AND (\(project)::text IS NULL OR project_id = \(project)::text)
            GROUP BY project_id
            """
        ) { try ProjectCountRow($0) }
    }

    /// LeadsCountInFlight: leads a request is carrying right now, per project: the worker
    /// leaves them `pending` and lists them in the open attempt's `lead_ids` (docs/contract.md §2).
    package static func inFlightCounts(only project: String?) -> RowQuery<ProjectCountRow> {
        RowQuery(
            """
            SELECT a.project_id, count(*)::int8
            FROM leadsync.submission_attempts a
            CROSS JOIN LATERAL unnest(a.lead_ids) AS x(id)
            JOIN leadsync.leads l ON l.id = x.id AND l.status = 'pending'
            WHERE a.finished_at IS NULL AND (\(project)::text IS NULL OR a.project_id = \(project)::text)
            GROUP BY a.project_id
            """
        ) { try ProjectCountRow($0) }
    }

    /// When a project's oldest pending lead was created and a request last had a lead accepted.
    package struct LagRow: Sendable {
        package let projectId: String
        package let oldestPendingAt: Date?
        package let lastSuccessAt: Date?

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            oldestPendingAt = try cells.next()
            lastSuccessAt = try cells.next()
        }
    }

    /// ProjectsOldestPendingAndLastSuccess: per project, when its oldest pending lead was
    /// created (new leads: the first of each arrival range, migration 0011; retries through `leads_retry`)
    /// and when a request last had a lead accepted.
    package static func oldestPendingAndLastSuccess(only project: String?) -> RowQuery<LagRow> {
        RowQuery(
            """
            SELECT p.project_id, least(n.created_at, r.created_at), s.finished_at
            FROM leadsync.projects p
            LEFT JOIN LATERAL (SELECT \(unescaped: ReadyLeads.oldestNewCreatedAt(project: "p.project_id")) AS created_at) n ON true
            LEFT JOIN LATERAL (SELECT min(l.created_at) AS created_at FROM leadsync.leads l
                               WHERE l.project_id = p.project_id AND \(unescaped: ReadyLeads.retrying("l."))) r ON true
            LEFT JOIN LATERAL (SELECT a.finished_at FROM leadsync.submission_attempts a
                               WHERE a.project_id = p.project_id AND a.success_count > 0 AND a.finished_at IS NOT NULL
                               ORDER BY a.project_id, a.started_at DESC LIMIT 1) s ON true
            WHERE (\(project)::text IS NULL OR p.project_id = \(project)::text)
            """
        ) { try LagRow($0) }
    }

    /// Invalid markers of one project and reason: all of them, and those marked since a date.
    package struct InvalidCountRow: Sendable {
        package let projectId: String
        package let reason: String
        package let count: Int
        package let countSince: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            reason = try cells.next()
            count = try cells.next()
            countSince = try cells.next()
        }
    }

    /// InvalidLeadsCountByReason: markers per project and reason, and how many since `since`.
    package static func invalidCountsByReason(only project: String?, since: Date) -> RowQuery<InvalidCountRow> {
        RowQuery(
            """
            SELECT project_id, reason, count(*)::int8, (count(*) FILTER (WHERE created_at >= \(since)))::int8
            FROM leadsync.invalid_leads
            WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
            GROUP BY project_id, reason
            """
        ) { try InvalidCountRow($0) }
    }

    /// Requests of one project and outcome ('' while open) and their leads' results.
    package struct OutcomeCountRow: Sendable {
        package let projectId: String
        package let outcome: String
        package let requests: Int
        package let accepted: Int
        package let rejected: Int
        package let unconfirmed: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            outcome = try cells.next()
            requests = try cells.next()
            accepted = try cells.next()
            rejected = try cells.next()
            unconfirmed = try cells.next()
        }
    }

    /// AttemptsCountByOutcome: requests started since `since`, per project and outcome.
    package static func attemptCountsByOutcome(only project: String?, since: Date) -> RowQuery<OutcomeCountRow> {
        RowQuery(
            """
            SELECT project_id, coalesce(outcome, ''), count(*)::int8, coalesce(sum(success_count), 0)::int8,
                   coalesce(sum(error_count), 0)::int8, coalesce(sum(unconfirmed_count), 0)::int8
            FROM leadsync.submission_attempts
            WHERE started_at >= \(since) AND (\(project)::text IS NULL OR project_id = \(project)::text)
            GROUP BY project_id, coalesce(outcome, '')
            """
        ) { try OutcomeCountRow($0) }
    }

    /// An invalid marker with a few fields of its lead (gone when the lead was deleted).
    package struct InvalidLeadRow: Sendable {
        package let leadId: Int64
        package let projectId: String
        package let reason: String
        package let source: String
        package let attemptId: Int64?
        package let markedAt: Date
        package let message: String
        package let phone: String?
        package let processId: String?
        package let referenceId: String?

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            leadId = try cells.next()
            projectId = try cells.next()
            reason = try cells.next()
            source = try cells.next()
            attemptId = try cells.next()
            markedAt = try cells.next()
            message = try cells.next()
            phone = try cells.next()
            processId = try cells.next()
            referenceId = try cells.next()
        }
    }

    /// InvalidLeadsList: markers with a few fields of their lead, newest first.
    package static func invalidLeads(only project: String?, reason: String?, limit: Int?) -> RowQuery<InvalidLeadRow> {
        RowQuery(
            """
            SELECT i.lead_id, i.project_id, i.reason, i.source, i.attempt_id, i.created_at, i.message,
                   l.phone, l.process_id, l.reference_id
            FROM leadsync.invalid_leads i
            LEFT JOIN leadsync.leads l ON l.id = i.lead_id
            WHERE (\(project)::text IS NULL OR i.project_id = \(project)::text)
              AND (\(reason)::text IS NULL OR i.reason = \(reason)::text)
            ORDER BY i.created_at DESC, i.lead_id DESC
            LIMIT \(limit)::int8
            """
        ) { try InvalidLeadRow($0) }
    }

    /// Invalid markers of one reason and source.
    package struct ReasonTotalRow: Sendable {
        package let reason: String
        package let source: String
        package let count: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            reason = try cells.next()
            source = try cells.next()
            count = try cells.next()
        }
    }

    /// InvalidLeadsCountByReasonSource: markers per reason and source under the same filter as `invalidLeads`.
    package static func invalidReasonTotals(only project: String?, reason: String?) -> RowQuery<ReasonTotalRow> {
        RowQuery(
            """
            SELECT reason, source, count(*)::int8 FROM leadsync.invalid_leads
            WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
              AND (\(reason)::text IS NULL OR reason = \(reason)::text)
            GROUP BY reason, source
            ORDER BY count(*) DESC, reason, source
            """
        ) { try ReasonTotalRow($0) }
    }

    /// One request as `leadsync attempts` lists it.
    package struct AttemptRow: Sendable {
        package let id: Int64
        package let projectId: String
        package let startedAt: Date
        package let finishedAt: Date?
        package let leadCount: Int
        package let httpStatus: Int?
        package let outcome: String?
        package let successCount: Int
        package let errorCount: Int
        package let unconfirmedCount: Int
        package let durationMs: Int64?
        package let workerId: String
        package let error: String?

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            id = try cells.next()
            projectId = try cells.next()
            startedAt = try cells.next()
            finishedAt = try cells.next()
            leadCount = try cells.next()
            httpStatus = try cells.next()
            outcome = try cells.next()
            successCount = try cells.next()
            errorCount = try cells.next()
            unconfirmedCount = try cells.next()
            durationMs = try cells.next()
            workerId = try cells.next()
            error = try cells.next()
        }
    }

    /// AttemptsList: request history, newest first.
    package static func attempts(only project: String?, limit: Int?) -> RowQuery<AttemptRow> {
        RowQuery(
            """
            SELECT id, project_id, started_at, finished_at, lead_count, http_status, outcome, success_count,
                   error_count, unconfirmed_count, (extract(epoch FROM finished_at - started_at) * 1000)::int8,
                   worker_id, error
            FROM leadsync.submission_attempts
            WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
            ORDER BY started_at DESC, id DESC
            LIMIT \(limit)::int8
            """
        ) { try AttemptRow($0) }
    }

    /// AttemptsCount: how many requests `attempts` could list.
    package static func attemptCount(only project: String?) -> RowQuery<Int> {
        RowQuery(
            """
            SELECT count(*)::int8 FROM leadsync.submission_attempts
            WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
            """
        ) { try $0.decode(Int.self) }
    }

    /// A `leadsync.leads` row with every column: the worker's (`LeadQueries.decodeLead`), then the rest.
    package struct LeadDetailRow: Sendable {
        package let lead: Lead
        package let status: String
        package let nextAttemptAt: Date?
        package let createdAt: Date
        package let updatedAt: Date
        package let submittedAt: Date?
        package let remoteId: String?
        package let lastError: String?
        package let heldReason: String?
        package let resubmitOf: Int64?

        static let columns = """
            \(LeadQueries.columns),
            status, next_attempt_at, created_at, updated_at, submitted_at, remote_id, last_error, held_reason, resubmit_of
            """

        init(_ row: PostgresRow) throws {
            var cells = row.makeIterator()
            lead = try LeadQueries.decodeLead(&cells)
            var rest = RowCells(remainderOf: cells)
            status = try rest.next()
            nextAttemptAt = try rest.next()
            createdAt = try rest.next()
            updatedAt = try rest.next()
            submittedAt = try rest.next()
            remoteId = try rest.next()
            lastError = try rest.next()
            heldReason = try rest.next()
            resubmitOf = try rest.next()
        }
    }

    /// LeadsGet: one lead, every column.
    package static func lead(_ id: Int64) -> RowQuery<LeadDetailRow> {
        RowQuery("SELECT \(unescaped: LeadDetailRow.columns) FROM leadsync.leads WHERE id = \(id)") {
            try LeadDetailRow($0)
        }
    }

    /// LeadsGetForUpdate: one lead, locked for `lead resubmit`.
    package static func leadForUpdate(_ id: Int64) -> RowQuery<LeadDetailRow> {
        RowQuery("SELECT \(unescaped: LeadDetailRow.columns) FROM leadsync.leads WHERE id = \(id) FOR UPDATE") {
            try LeadDetailRow($0)
        }
    }

    /// One request that carried a lead, and what became of the lead in it.
    package struct HistoryRow: Sendable {
        package let attemptId: Int64
        package let startedAt: Date
        package let finishedAt: Date?
        package let httpStatus: Int?
        package let outcome: String?
        package let result: String
        package let message: String?

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            attemptId = try cells.next()
            startedAt = try cells.next()
            finishedAt = try cells.next()
            httpStatus = try cells.next()
            outcome = try cells.next()
            result = try cells.next()
            message = try cells.next()
        }
    }

    /// AttemptLeadsListForLead: a lead's history, oldest first.
    package static func leadHistory(_ id: Int64) -> RowQuery<HistoryRow> {
        RowQuery(
            """
            SELECT al.attempt_id, a.started_at, a.finished_at, a.http_status, a.outcome, al.result, al.message
            FROM leadsync.attempt_leads al JOIN leadsync.submission_attempts a ON a.id = al.attempt_id
            WHERE al.lead_id = \(id)
            ORDER BY a.started_at, al.attempt_id
            """
        ) { try HistoryRow($0) }
    }

    /// An open request.
    package struct OpenAttemptRow: Sendable {
        package let id: Int64
        package let startedAt: Date

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            id = try cells.next()
            startedAt = try cells.next()
        }
    }

    /// AttemptsOpenForLead: the request carrying the lead right now, if any.
    package static func openAttempt(carrying id: Int64) -> RowQuery<OpenAttemptRow> {
        RowQuery(
            """
            SELECT id, started_at FROM leadsync.submission_attempts
            WHERE finished_at IS NULL AND \(id)::int8 = ANY(lead_ids)
            ORDER BY id LIMIT 1
            """
        ) { try OpenAttemptRow($0) }
    }

    /// A lead's invalid marker.
    package struct MarkerRow: Sendable {
        package let reason: String
        package let source: String
        package let message: String
        package let attemptId: Int64?
        package let markedAt: Date

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            reason = try cells.next()
            source = try cells.next()
            message = try cells.next()
            attemptId = try cells.next()
            markedAt = try cells.next()
        }
    }

    /// InvalidLeadsGet: a lead's invalid marker.
    package static func invalidMarker(_ id: Int64) -> RowQuery<MarkerRow> {
        RowQuery(
            "SELECT reason, source, message, attempt_id, created_at FROM leadsync.invalid_leads WHERE lead_id = \(id)"
        ) { try MarkerRow($0) }
    }

    /// A lead's id and state.
    package struct LeadStatusRow: Sendable {
        package let id: Int64
        package let status: String

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            id = try cells.next()
            status = try cells.next()
        }
    }

    /// LeadsListResubmits: leads that are corrected copies of `id`, oldest first.
    package static func resubmits(of id: Int64) -> RowQuery<LeadStatusRow> {
        RowQuery("SELECT id, status FROM leadsync.leads WHERE resubmit_of = \(id) ORDER BY id") {
            try LeadStatusRow($0)
        }
    }

    /// PhoneClaimsGet: which lead holds a normalized phone in a project, and its state
    /// ('' when the lead is gone).
    package static func phoneHolder(project: String, key: String) -> RowQuery<LeadStatusRow> {
        RowQuery(
            """
            SELECT c.lead_id, coalesce(l.status, '') FROM leadsync.phone_claims c
            LEFT JOIN leadsync.leads l ON l.id = c.lead_id
            WHERE c.project_id = \(project) AND c.phone_key = \(key)
            """
        ) { try LeadStatusRow($0) }
    }

    /// LeadsListPendingRetry: pending leads put back for a retry (`leads_retry`; few by nature).
    package static func pendingRetries(project: String) -> RowQuery<Lead> {
        RowQuery(
            """
            SELECT \(unescaped: LeadQueries.columns) FROM leadsync.leads
            WHERE project_id = \(project) AND \(unescaped: ReadyLeads.retrying())
            """
        ) { try LeadQueries.decodeLead($0) }
    }

    /// A normalized phone and the lead that holds it.
    package struct PhoneHolderRow: Sendable {
        package let phoneKey: String
        package let leadId: Int64

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            phoneKey = try cells.next()
            leadId = try cells.next()
        }
    }

    /// PhoneClaimsListLive: of these phone keys, those held by a live holder
    /// (`leadsync.phone_holder_is_live`, migration 0006), as `LeadQueries.claimPhones` judges
    /// them. Such a holder makes any other lead a duplicate.
    package static func livePhoneHolders(project: String, keys: [String]) -> RowQuery<PhoneHolderRow> {
        RowQuery(
            """
            SELECT c.phone_key, c.lead_id FROM leadsync.phone_claims c
            JOIN leadsync.leads o ON o.id = c.lead_id AND leadsync.phone_holder_is_live(o.status)
            WHERE c.project_id = \(project) AND c.phone_key = ANY(\(keys)::text[])
            """
        ) { try PhoneHolderRow($0) }
    }

    /// `SELECT now()`: the database's clock, the one `created_at` was written with.
    package static let now = RowQuery<Date>("SELECT now()") { try $0.decode(Date.self) }
}
