import LeadSyncCore
import PostgresNIO

/// A `leadsync.projects` row as the worker uses it.
public struct ProjectSettings: Sendable, Equatable {
    public var projectId: String
    public var rateLimitRequests: Int
    public var rateLimitWindow: Duration
    public var maxBatchSize: Int
    public var maxInFlight: Int
    public var maxAttempts: Int
    public var paused: Bool
    public var pauseReason: String?
    /// Encoded request body at most (docs/contract.md §1).
    public var maxRequestBytes: Int

    public init(
        projectId: String, rateLimitRequests: Int = ProjectDefaults.rateLimitRequests,
        rateLimitWindow: Duration = ProjectDefaults.rateLimitWindow, maxBatchSize: Int = ProjectDefaults.maxBatchSize,
        maxInFlight: Int = ProjectDefaults.maxInFlight, maxAttempts: Int = ProjectDefaults.maxAttempts,
        paused: Bool = false, pauseReason: String? = nil, maxRequestBytes: Int = ProjectDefaults.maxRequestBytes
    ) {
        self.maxRequestBytes = maxRequestBytes
        self.projectId = projectId
        self.rateLimitRequests = rateLimitRequests
        self.rateLimitWindow = rateLimitWindow
        self.maxBatchSize = maxBatchSize
        self.maxInFlight = maxInFlight
        self.maxAttempts = maxAttempts
        self.paused = paused
        self.pauseReason = pauseReason
    }
}

/// Named queries on `leadsync.projects`.
package enum ProjectQueries {
    /// ProjectsGet: settings of one project, paused as `leadsync.project_is_paused` says (migration 0006).
    package static func get(_ projectId: String) -> PostgresQuery {
        """
        SELECT project_id, rate_limit_requests, (extract(epoch FROM rate_limit_window) * 1000)::int8,
               max_batch_size, max_in_flight, max_attempts,
               leadsync.project_is_paused(projects), pause_reason, max_request_bytes
        FROM leadsync.projects WHERE project_id = \(projectId)
        """
    }

    package static func decode(_ row: PostgresRow) throws -> ProjectSettings {
        let (id, requests, windowMs, batch, inFlight, attempts, paused, reason, maxBytes) = try row.decode(
            (String, Int, Int64, Int, Int, Int, Bool, String?, Int).self)
        return ProjectSettings(
            projectId: id, rateLimitRequests: requests, rateLimitWindow: .milliseconds(windowMs),
            maxBatchSize: batch, maxInFlight: inFlight, maxAttempts: attempts, paused: paused, pauseReason: reason,
            maxRequestBytes: maxBytes)
    }

    /// ProjectsListReady: projects not paused with leads ready to send now. New leads: an
    /// arrival row (migration 0011); retries: a due entry of `leads_retry`. Both tables hold
    /// work only (a lane deletes arrival rows it is done with; a lead leaving pending loses
    /// its `next_attempt_at`), so the query reads what is waiting and probes `projects` for
    /// those alone: its cost follows the work, not the number of projects. Probing every
    /// project instead took 220 ms on 10,000 projects with 300,000 leads (0.09 ms this way),
    /// most of an idle worker's sweep (docs/operating.md §21). The dispatcher leaves out the
    /// projects its lanes serve itself (10,000 served ids sent along were compared with every
    /// project's). An arrival row whose leads are all sent already makes its project look
    /// ready once: the lane that starts deletes it.
    package static func listReady(only projects: [String]?) -> PostgresQuery {
        let filter = projects ?? []
        let all = projects == nil
        return """
            SELECT p.project_id FROM leadsync.projects p
            WHERE p.project_id IN (
                    SELECT a.project_id FROM leadsync.arrivals a
                    UNION
                    SELECT l.project_id FROM leadsync.leads l WHERE \(unescaped: ReadyLeads.due("l.")))
              AND (\(all) OR p.project_id = ANY(\(filter)))
              AND NOT leadsync.project_is_paused(p)
            ORDER BY p.project_id
            """
    }

    /// LeadCountsCompact: folds the per-statement rows of `lead_counts` into one per
    /// (project, state); the worker calls it now and then.
    package static let compactLeadCounts: PostgresQuery = "SELECT leadsync.compact_lead_counts()"

    /// LeadsBacklog: per project, pending leads (from `lead_counts`) and the age in seconds
    /// of the oldest: the first never-tried one of its arrival ranges, or the oldest lead
    /// waiting for a retry (metrics). No scan of the leads: no index names their status (migration 0011).
    package static let backlog: PostgresQuery = """
        SELECT c.project_id, c.pending,
               coalesce(extract(epoch FROM now() - least(
                   \(unescaped: ReadyLeads.oldestNewCreatedAt(project: "c.project_id")),
                   (SELECT min(l.created_at) FROM leadsync.leads l
                    WHERE l.project_id = c.project_id AND \(unescaped: ReadyLeads.retrying("l."))))), 0)::float8
        FROM (SELECT project_id, sum(delta)::int8 AS pending FROM leadsync.lead_counts
              WHERE status = 'pending' GROUP BY project_id HAVING sum(delta) > 0) AS c
        """

    /// ProjectsPause: docs/contract.md §3, a 403 pauses the project until an operator resumes it.
    package static func pause(_ projectId: String, reason: String) -> PostgresQuery {
        """
        UPDATE leadsync.projects SET paused = true,
            pause_reason = \(StorableText.clean(reason, maxBytes: StorableText.pauseReasonBytes)), paused_until = NULL
        WHERE project_id = \(projectId)
        """
    }

    /// ProjectsSetBatchSize: a 400 "Maximum of N leads" lowers the batch size.
    package static func setBatchSize(_ projectId: String, to size: Int) -> PostgresQuery {
        """
        UPDATE leadsync.projects SET max_batch_size = least(max_batch_size, \(size))
        WHERE project_id = \(projectId)
        """
    }

    // MARK: operators' writes

    /// ProjectsPauseByOperator: `leadsync project pause`; returns the project id when it exists.
    package static func pauseByOperator(_ projectId: String, reason: String) -> RowQuery<String> {
        RowQuery(
            """
            UPDATE leadsync.projects SET paused = true, pause_reason = \(reason), paused_until = NULL, updated_at = now()
            WHERE project_id = \(projectId)
            RETURNING project_id
            """
        ) { try $0.decode(String.self) }
    }

    /// Whether a project was paused before `resume`, and why.
    package struct ResumedRow: Sendable {
        package let wasPaused: Bool
        package let pauseReason: String?

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            wasPaused = try cells.next()
            pauseReason = try cells.next()
        }
    }

    /// ProjectsResume: `leadsync project resume`; returns whether it was paused and why.
    package static func resume(_ projectId: String) -> RowQuery<ResumedRow> {
        RowQuery(
            """
            WITH old AS (
                SELECT project_id, leadsync.project_is_paused(projects) AS paused, pause_reason
                FROM leadsync.projects WHERE project_id = \(projectId) FOR UPDATE
            )
            UPDATE leadsync.projects p SET paused = false, pause_reason = NULL, paused_until = NULL, updated_at = now()
            FROM old WHERE p.project_id = old.project_id
            RETURNING old.paused, old.pause_reason
            """
        ) { try ResumedRow($0) }
    }

    /// ProjectsSetLimits: `leadsync project set`; a nil value keeps the setting. Returns the project id.
    package static func setLimits(
        _ projectId: String, rateLimitRequests: Int?, rateLimitWindowMs: Int64?, maxBatchSize: Int?,
        maxInFlight: Int?, maxAttempts: Int?, maxRequestBytes: Int?
    ) -> RowQuery<String> {
        RowQuery(
            """
            UPDATE leadsync.projects SET
                rate_limit_requests = coalesce(\(rateLimitRequests)::int4, rate_limit_requests),
                rate_limit_window = coalesce(\(rateLimitWindowMs)::int8 * interval '1 millisecond', rate_limit_window),
                max_batch_size = coalesce(\(maxBatchSize)::int4, max_batch_size),
                max_in_flight = coalesce(\(maxInFlight)::int4, max_in_flight),
                max_attempts = coalesce(\(maxAttempts)::int4, max_attempts),
                max_request_bytes = coalesce(\(maxRequestBytes)::int4, max_request_bytes),
                updated_at = now()
            WHERE project_id = \(projectId)
            RETURNING project_id
            """
        ) { try $0.decode(String.self) }
    }
}
