import Foundation
import LeadSyncCore
import PostgresNIO

// `leadsync console` (docs/operating.md §19): what its pages read beyond the report's
// aggregates. Every query is bounded by an index: the attempts of one project in a window
// (`submission_attempts_project_started`), one page of a list (migration 0010), a lead by
// id, reference_id or phone claim.

/// Read-only queries of the console's pages, each with its row type.
package enum ConsoleQueries {
    /// Requests a project started in a window, and the leads they carried.
    package struct RecentRow: Sendable {
        package let projectId: String
        package let requests: Int
        package let leads: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            requests = try cells.next()
            leads = try cells.next()
        }
    }

    /// AttemptsCountRecentByProject: per project, requests started since `since` and their
    /// leads; one index range per project, not a scan of the history.
    package static func recent(since: Date) -> RowQuery<RecentRow> {
        RowQuery(
            """
            SELECT p.project_id, a.requests, a.leads
            FROM leadsync.projects p
            CROSS JOIN LATERAL (
                SELECT count(*)::int8 AS requests, coalesce(sum(s.lead_count), 0)::int8 AS leads
                FROM leadsync.submission_attempts s
                WHERE s.project_id = p.project_id AND s.started_at >= \(since)) a
            """
        ) { try RecentRow($0) }
    }

    /// Requests of one time bucket and outcome ('open' while unanswered).
    package struct BucketRow: Sendable {
        /// 0 for the bucket starting at `since`, counting up.
        package let bucket: Int
        package let outcome: String
        package let requests: Int
        package let leads: Int
        package let accepted: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            bucket = try cells.next()
            outcome = try cells.next()
            requests = try cells.next()
            leads = try cells.next()
            accepted = try cells.next()
        }
    }

    /// AttemptsCountByBucketOutcome: one project's requests since `since` in buckets of
    /// `bucketSeconds`, by outcome.
    package static func buckets(project: String, since: Date, bucketSeconds: Int) -> RowQuery<BucketRow> {
        RowQuery(
            """
            SELECT floor(extract(epoch FROM started_at - \(since)) / \(bucketSeconds)::int8)::int8,
                   coalesce(outcome, 'open'), count(*)::int8, coalesce(sum(lead_count), 0)::int8,
                   coalesce(sum(success_count), 0)::int8
            FROM leadsync.submission_attempts
            WHERE project_id = \(project) AND started_at >= \(since)
            GROUP BY 1, 2
            """
        ) { try BucketRow($0) }
    }

    /// InvalidLeadsPage: at most `limit` invalid markers with ids below `before`, newest id
    /// first, under the filter. Without a filter it walks the primary key; with a project and
    /// a reason, `invalid_leads_project_reason_lead` with both bound (so the planner sees
    /// their frequency); with one of them, one probe of that index per value of the other.
    /// A lateral probe never sees its project or reason as a value and, misjudging how common
    /// it is, may walk the primary key filtering instead (126 ms on 2,000,000 leads): so each
    /// case binds what it knows.
    package static func invalidPage(
        only project: String?, reason: String?, allReasons: [String], before: Int64, limit: Int
    ) -> RowQuery<ReportQueries.InvalidLeadRow> {
        let query: PostgresQuery
        switch (project, reason) {
        case (nil, nil):
            query = """
                SELECT \(unescaped: invalidColumns) FROM (
                    SELECT lead_id FROM leadsync.invalid_leads WHERE lead_id < \(before)
                    ORDER BY lead_id DESC LIMIT \(limit)) page
                \(unescaped: invalidJoins)
                """
        case (let project?, let reason?):
            query = """
                SELECT \(unescaped: invalidColumns) FROM (
                    SELECT lead_id FROM leadsync.invalid_leads
                    WHERE project_id = \(project) AND reason = \(reason) AND lead_id < \(before)
                    ORDER BY project_id, reason, lead_id DESC LIMIT \(limit)) page
                \(unescaped: invalidJoins)
                """
        case (let project?, nil):
            query = """
                SELECT \(unescaped: invalidColumns) FROM (
                    SELECT x.lead_id FROM unnest(\(allReasons)::text[]) AS r(code)
                    CROSS JOIN LATERAL (
                        SELECT lead_id FROM leadsync.invalid_leads
                        WHERE project_id = \(project) AND reason = r.code AND lead_id < \(before)
                        ORDER BY lead_id DESC LIMIT \(limit)) x
                    ORDER BY x.lead_id DESC LIMIT \(limit)) page
                \(unescaped: invalidJoins)
                """
        case (nil, let reason?):
            query = """
                SELECT \(unescaped: invalidColumns) FROM (
                    SELECT x.lead_id FROM leadsync.projects p
                    CROSS JOIN LATERAL (
                        SELECT lead_id FROM leadsync.invalid_leads
                        WHERE project_id = p.project_id AND reason = \(reason) AND lead_id < \(before)
                        ORDER BY lead_id DESC LIMIT \(limit)) x
                    ORDER BY x.lead_id DESC LIMIT \(limit)) page
                \(unescaped: invalidJoins)
                """
        }
        return RowQuery(query) { try ReportQueries.InvalidLeadRow($0) }
    }

    static let invalidColumns = """
        i.lead_id, i.project_id, i.reason, i.source, i.attempt_id, i.created_at, i.message, l.phone, l.process_id,
        l.reference_id
        """
    static let invalidJoins = """
        JOIN leadsync.invalid_leads i ON i.lead_id = page.lead_id
        LEFT JOIN leadsync.leads l ON l.id = i.lead_id
        ORDER BY i.lead_id DESC
        """

    /// A held lead as the held list shows it.
    package struct HeldLeadRow: Sendable {
        package let leadId: Int64
        package let projectId: String
        package let heldReason: String
        package let heldSince: Date
        package let attemptCount: Int
        package let lastError: String?
        package let phone: String?
        package let processId: String?
        package let referenceId: String?

        static let columns = """
            id, project_id, held_reason, updated_at, attempt_count, last_error, phone, process_id, reference_id
            """

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            leadId = try cells.next()
            projectId = try cells.next()
            heldReason = try cells.next()
            heldSince = try cells.next()
            attemptCount = try cells.next()
            lastError = try cells.next()
            phone = try cells.next()
            processId = try cells.next()
            referenceId = try cells.next()
        }
    }

    /// LeadsHeldPage: at most `limit` held leads with ids below `before`, newest id first,
    /// through `leads_held` (held leads only): one probe per (project, reason)
    /// pair, with what the filter fixes bound as a value (see `invalidPage`).
    package static func heldPage(
        only project: String?, reason: String?, allReasons: [String], before: Int64, limit: Int
    ) -> RowQuery<HeldLeadRow> {
        let query: PostgresQuery
        switch (project, reason) {
        case (let project?, let reason?):
            query = """
                SELECT \(unescaped: HeldLeadRow.columns) FROM leadsync.leads
                WHERE status = 'held' AND project_id = \(project) AND held_reason = \(reason) AND id < \(before)
                ORDER BY project_id, held_reason, id DESC LIMIT \(limit)
                """
        case (let project?, nil):
            query = """
                SELECT \(unescaped: HeldLeadRow.columns) FROM leadsync.leads
                WHERE status = 'held' AND id IN (
                    SELECT x.id FROM unnest(\(allReasons)::text[]) AS r(code)
                    CROSS JOIN LATERAL (
                        SELECT id FROM leadsync.leads
                        WHERE status = 'held' AND project_id = \(project) AND held_reason = r.code AND id < \(before)
                        ORDER BY id DESC LIMIT \(limit)) x
                    ORDER BY x.id DESC LIMIT \(limit))
                ORDER BY id DESC
                """
        case (nil, let reason?):
            query = """
                SELECT \(unescaped: HeldLeadRow.columns) FROM leadsync.leads
                WHERE status = 'held' AND id IN (
                    SELECT x.id FROM leadsync.projects p
                    CROSS JOIN LATERAL (
                        SELECT id FROM leadsync.leads
                        WHERE status = 'held' AND project_id = p.project_id AND held_reason = \(reason) AND id < \(before)
                        ORDER BY id DESC LIMIT \(limit)) x
                    ORDER BY x.id DESC LIMIT \(limit))
                ORDER BY id DESC
                """
        case (nil, nil):
            query = """
                SELECT \(unescaped: HeldLeadRow.columns) FROM leadsync.leads
                WHERE status = 'held' AND id IN (
                    SELECT x.id FROM leadsync.projects p
                    CROSS JOIN unnest(\(allReasons)::text[]) AS r(code)
                    CROSS JOIN LATERAL (
                        SELECT id FROM leadsync.leads
                        WHERE status = 'held' AND project_id = p.project_id AND held_reason = r.code AND id < \(before)
                        ORDER BY id DESC LIMIT \(limit)) x
                    ORDER BY x.id DESC LIMIT \(limit))
                ORDER BY id DESC
                """
        }
        return RowQuery(query) { try HeldLeadRow($0) }
    }

    /// LeadsListHeld: every held lead under the filter, in id order (the export).
    package static func heldLeads(only project: String?, reason: String?) -> RowQuery<HeldLeadRow> {
        RowQuery(
            """
            SELECT \(unescaped: HeldLeadRow.columns)
            FROM leadsync.leads
            WHERE \(unescaped: ReadyLeads.held()) AND (\(project)::text IS NULL OR project_id = \(project)::text)
              AND (\(reason)::text IS NULL OR held_reason = \(reason)::text)
            ORDER BY id
            """
        ) { try HeldLeadRow($0) }
    }

    /// LeadsFindByReference: leads whose reference_id is `reference`: a scan, or the optional
    /// `leads_reference_id` index where an operator made it (docs/operating.md §19).
    package static func leadsByReference(_ reference: String, limit: Int) -> RowQuery<Int64> {
        RowQuery(
            """
            SELECT id FROM leadsync.leads
            WHERE reference_id = \(reference) AND reference_id IS NOT NULL
            ORDER BY id LIMIT \(limit)
            """
        ) { try $0.decode(Int64.self) }
    }

    /// PhoneClaimsFindByKey: the lead holding a normalized phone in each project (one probe
    /// of the claims' primary key per project).
    package static func leadsByPhoneKey(_ key: String) -> RowQuery<Int64> {
        RowQuery(
            """
            SELECT c.lead_id FROM leadsync.projects p
            JOIN leadsync.phone_claims c ON c.project_id = p.project_id AND c.phone_key = \(key)
            ORDER BY c.lead_id
            """
        ) { try $0.decode(Int64.self) }
    }

    /// LeadsExists: whether a lead with this id exists.
    package static func leadExists(_ id: Int64) -> RowQuery<Int64> {
        RowQuery("SELECT id FROM leadsync.leads WHERE id = \(id)") { try $0.decode(Int64.self) }
    }
}

extension PostgresConnection {
    /// Each row of `query` in turn, handed to an async `body` (a response being streamed).
    package func forEachRowAsync<Row>(
        isolation: isolated (any Actor)? = #isolation, _ query: RowQuery<Row>, logger: Logger,
        _ body: (Row) async throws -> Void
    ) async throws {
        for try await row in try await self.query(query.query, logger: logger) { try await body(try query.decode(row)) }
    }
}
