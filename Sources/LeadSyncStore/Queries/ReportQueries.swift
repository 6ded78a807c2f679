import Foundation
import LeadSyncCore
import PostgresNIO

// The operator's queries (`leadsync report`, `invalid`, `attempts`, `lead`, `project`,
// `release`, `check`, `prune`; SPEC §7). Reads are aggregates per project, never per-lead
// work, so `report` stays fast on large tables; writes are one set-based statement each.
// A `project` of nil means every project; `now` is the clock the report is taken at.

/// Read-only aggregates and listings for the admin commands.
public enum ReportQueries {
    /// ProjectsListWithSettings: every project (or one), with its effective pause.
    /// Columns: project_id, paused, pause_reason, paused_until, rate_limit_requests,
    /// rate_limit_window (ms), max_batch_size, max_in_flight, max_attempts, max_request_bytes.
    public static func projects(only project: String?, now: Date) -> PostgresQuery {
        """
        SELECT project_id, paused AND (paused_until IS NULL OR paused_until > \(now)), pause_reason, paused_until,
               rate_limit_requests, (extract(epoch FROM rate_limit_window) * 1000)::int8,
               max_batch_size, max_in_flight, max_attempts, max_request_bytes
        FROM leadsync.projects
        WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
        ORDER BY project_id
        """
    }

    /// ProjectsMaxRequestBytes: the byte budget `leadsync check` judges leads against.
    public static func maxRequestBytes(project: String) -> PostgresQuery {
        "SELECT max_request_bytes FROM leadsync.projects WHERE project_id = \(project)"
    }

    /// ProjectsExists: whether a project row exists.
    public static func projectExists(_ project: String) -> PostgresQuery {
        "SELECT count(*)::int8 FROM leadsync.projects WHERE project_id = \(project)"
    }

    /// LeadCountsByProjectState: (project_id, status, count), summed from `lead_counts`
    /// (kept by triggers on `leads`), so the report never reads the leads themselves.
    public static func leadCountsByState(only project: String?) -> PostgresQuery {
        """
        SELECT project_id, status, sum(delta)::int8 FROM leadsync.lead_counts
        WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
        GROUP BY project_id, status HAVING sum(delta) <> 0
        """
    }

    /// LeadsCountHeldByReason: (project_id, held_reason, count), from `leads_held_by_reason`.
    public static func heldCountsByReason(only project: String?) -> PostgresQuery {
        """
        SELECT project_id, held_reason, count(*)::int8 FROM leadsync.leads
        WHERE status = 'held' AND (\(project)::text IS NULL OR project_id = \(project)::text)
        GROUP BY project_id, held_reason
        """
    }

    /// LeadsCountRetrying: (project_id, count) of pending leads waiting out a retry back-off,
    /// from `leads_pending_retry`.
    public static func retryingCounts(only project: String?, now: Date) -> PostgresQuery {
        """
        SELECT project_id, count(*)::int8 FROM leadsync.leads
        WHERE status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at > \(now)
          AND (\(project)::text IS NULL OR project_id = \(project)::text)
        GROUP BY project_id
        """
    }

    /// LeadsCountInFlight: (project_id, count) of leads a request is carrying right now: the
    /// worker leaves them `pending` and lists them in the open attempt's `lead_ids`.
    public static func inFlightCounts(only project: String?) -> PostgresQuery {
        """
        SELECT a.project_id, count(*)::int8
        FROM leadsync.submission_attempts a
        CROSS JOIN LATERAL unnest(a.lead_ids) AS x(id)
        JOIN leadsync.leads l ON l.id = x.id AND l.status = 'pending'
        WHERE a.finished_at IS NULL AND (\(project)::text IS NULL OR a.project_id = \(project)::text)
        GROUP BY a.project_id
        """
    }

    /// ProjectsOldestPendingAndLastSuccess: per project, when its oldest pending lead was
    /// created (new leads through `leads_pending_new`, retries through `leads_pending_retry`)
    /// and when a request last had a lead accepted.
    public static func oldestPendingAndLastSuccess(only project: String?) -> PostgresQuery {
        """
        SELECT p.project_id, least(n.created_at, r.created_at), s.finished_at
        FROM leadsync.projects p
        LEFT JOIN LATERAL (SELECT l.created_at FROM leadsync.leads l
                           WHERE l.project_id = p.project_id AND l.status = 'pending' AND l.next_attempt_at IS NULL
                           ORDER BY l.project_id, l.id LIMIT 1) n ON true
        LEFT JOIN LATERAL (SELECT min(l.created_at) AS created_at FROM leadsync.leads l
                           WHERE l.project_id = p.project_id AND l.status = 'pending'
                             AND l.next_attempt_at IS NOT NULL) r ON true
        LEFT JOIN LATERAL (SELECT a.finished_at FROM leadsync.submission_attempts a
                           WHERE a.project_id = p.project_id AND a.success_count > 0 AND a.finished_at IS NOT NULL
                           ORDER BY a.project_id, a.started_at DESC LIMIT 1) s ON true
        WHERE (\(project)::text IS NULL OR p.project_id = \(project)::text)
        """
    }

    /// InvalidLeadsCountByReason: (project_id, reason, count, count marked since `since`).
    public static func invalidCountsByReason(only project: String?, since: Date) -> PostgresQuery {
        """
        SELECT project_id, reason, count(*)::int8, (count(*) FILTER (WHERE created_at >= \(since)))::int8
        FROM leadsync.invalid_leads
        WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
        GROUP BY project_id, reason
        """
    }

    /// AttemptsCountByOutcome: requests started since `since`, per project and outcome
    /// ('' while still open): (project_id, outcome, requests, accepted, rejected, unconfirmed).
    public static func attemptCountsByOutcome(only project: String?, since: Date) -> PostgresQuery {
        """
        SELECT project_id, coalesce(outcome, ''), count(*)::int8, coalesce(sum(success_count), 0)::int8,
               coalesce(sum(error_count), 0)::int8, coalesce(sum(unconfirmed_count), 0)::int8
        FROM leadsync.submission_attempts
        WHERE started_at >= \(since) AND (\(project)::text IS NULL OR project_id = \(project)::text)
        GROUP BY project_id, coalesce(outcome, '')
        """
    }

    /// InvalidLeadsList: markers with a few fields of their lead, newest first.
    /// Columns: lead_id, project_id, reason, source, attempt_id, created_at, message,
    /// phone, process_id, reference_id.
    public static func invalidLeads(only project: String?, reason: String?, limit: Int?) -> PostgresQuery {
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
    }

    /// InvalidLeadsCountByReasonSource: (reason, source, count) under the same filter as `invalidLeads`.
    public static func invalidReasonTotals(only project: String?, reason: String?) -> PostgresQuery {
        """
        SELECT reason, source, count(*)::int8 FROM leadsync.invalid_leads
        WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
          AND (\(reason)::text IS NULL OR reason = \(reason)::text)
        GROUP BY reason, source
        ORDER BY count(*) DESC, reason, source
        """
    }

    /// AttemptsList: request history, newest first. Columns: id, project_id, started_at,
    /// finished_at, lead_count, http_status, outcome, success_count, error_count,
    /// unconfirmed_count, duration (ms), worker_id, error.
    public static func attempts(only project: String?, limit: Int?) -> PostgresQuery {
        """
        SELECT id, project_id, started_at, finished_at, lead_count, http_status, outcome, success_count, error_count,
               unconfirmed_count, (extract(epoch FROM finished_at - started_at) * 1000)::int8, worker_id, error
        FROM leadsync.submission_attempts
        WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
        ORDER BY started_at DESC, id DESC
        LIMIT \(limit)::int8
        """
    }

    /// AttemptsCount: how many requests `attempts` could list.
    public static func attemptCount(only project: String?) -> PostgresQuery {
        """
        SELECT count(*)::int8 FROM leadsync.submission_attempts
        WHERE (\(project)::text IS NULL OR project_id = \(project)::text)
        """
    }

    /// The worker's columns (`LeadQueries.decodeLead` reads 0–14), then the rest (15–23).
    static let leadDetailColumns = """
        \(LeadQueries.columns),
        status, next_attempt_at, created_at, updated_at, submitted_at, remote_id, last_error, held_reason, resubmit_of
        """

    /// LeadsGet: one lead, every column (24, in `leadDetailColumns` order).
    public static func lead(_ id: Int64) -> PostgresQuery {
        "SELECT \(unescaped: leadDetailColumns) FROM leadsync.leads WHERE id = \(id)"
    }

    /// LeadsGetForUpdate: one lead, locked for `lead resubmit`.
    public static func leadForUpdate(_ id: Int64) -> PostgresQuery {
        "SELECT \(unescaped: leadDetailColumns) FROM leadsync.leads WHERE id = \(id) FOR UPDATE"
    }

    /// AttemptLeadsListForLead: a lead's history. Columns: attempt_id, started_at,
    /// finished_at, http_status, outcome, result, message.
    public static func leadHistory(_ id: Int64) -> PostgresQuery {
        """
        SELECT al.attempt_id, a.started_at, a.finished_at, a.http_status, a.outcome, al.result, al.message
        FROM leadsync.attempt_leads al JOIN leadsync.submission_attempts a ON a.id = al.attempt_id
        WHERE al.lead_id = \(id)
        ORDER BY a.started_at, al.attempt_id
        """
    }

    /// AttemptsOpenForLead: the request carrying the lead right now, if any: (id, started_at).
    public static func openAttempt(carrying id: Int64) -> PostgresQuery {
        """
        SELECT id, started_at FROM leadsync.submission_attempts
        WHERE finished_at IS NULL AND \(id)::int8 = ANY(lead_ids)
        ORDER BY id LIMIT 1
        """
    }

    /// InvalidLeadsGet: a lead's invalid marker: reason, source, message, attempt_id, created_at.
    public static func invalidMarker(_ id: Int64) -> PostgresQuery {
        "SELECT reason, source, message, attempt_id, created_at FROM leadsync.invalid_leads WHERE lead_id = \(id)"
    }

    /// LeadsListResubmits: leads that are corrected copies of `id`: (id, status).
    public static func resubmits(of id: Int64) -> PostgresQuery {
        "SELECT id, status FROM leadsync.leads WHERE resubmit_of = \(id) ORDER BY id"
    }

    /// PhoneClaimsGet: which lead holds a normalized phone in a project: (lead_id, its status).
    public static func phoneHolder(project: String, key: String) -> PostgresQuery {
        """
        SELECT c.lead_id, coalesce(l.status, '') FROM leadsync.phone_claims c
        LEFT JOIN leadsync.leads l ON l.id = c.lead_id
        WHERE c.project_id = \(project) AND c.phone_key = \(key)
        """
    }

    /// LeadsListPendingNew: never-tried pending leads after `afterId`, in id order (`leads_pending_new`).
    public static func pendingNew(project: String, afterId: Int64, limit: Int) -> PostgresQuery {
        """
        SELECT \(unescaped: LeadQueries.columns) FROM leadsync.leads
        WHERE project_id = \(project) AND status = 'pending' AND next_attempt_at IS NULL AND id > \(afterId)
        ORDER BY project_id, id LIMIT \(limit)
        """
    }

    /// LeadsListPendingRetry: pending leads put back for a retry (`leads_pending_retry`; few by nature).
    public static func pendingRetries(project: String) -> PostgresQuery {
        """
        SELECT \(unescaped: LeadQueries.columns) FROM leadsync.leads
        WHERE project_id = \(project) AND status = 'pending' AND next_attempt_at IS NOT NULL
        """
    }

    /// PhoneClaimsListLive: of these phone keys, those held by a lead that is still pending
    /// (in flight included) or submitted: (phone_key, lead_id). Such a holder makes any other lead a duplicate.
    public static func livePhoneHolders(project: String, keys: [String]) -> PostgresQuery {
        """
        SELECT c.phone_key, c.lead_id FROM leadsync.phone_claims c
        JOIN leadsync.leads o ON o.id = c.lead_id AND o.status IN ('pending', 'submitted')
        WHERE c.project_id = \(project) AND c.phone_key = ANY(\(keys)::text[])
        """
    }

    /// AttemptLeadsCountOlderThan: what `prune` would delete: (rows, attempts).
    public static func prunable(before cutoff: Date) -> PostgresQuery {
        """
        SELECT count(*)::int8, count(DISTINCT al.attempt_id)::int8
        FROM leadsync.attempt_leads al JOIN leadsync.submission_attempts a ON a.id = al.attempt_id
        WHERE a.started_at < \(cutoff) AND a.finished_at IS NOT NULL
        """
    }

    /// `SELECT now()`: the database's clock, the one `created_at` was written with.
    public static let now: PostgresQuery = "SELECT now()"
}

// MARK: - Writes by an operator. They belong to their tables' query enums; they live here
// so the admin commands' SQL is reviewed in one place.

extension ProjectQueries {
    /// ProjectsPauseByOperator: `leadsync project pause`; returns the project id when it exists.
    public static func pauseByOperator(_ projectId: String, reason: String) -> PostgresQuery {
        """
        UPDATE leadsync.projects SET paused = true, pause_reason = \(reason), paused_until = NULL, updated_at = now()
        WHERE project_id = \(projectId)
        RETURNING project_id
        """
    }

    /// ProjectsResume: `leadsync project resume`; returns whether it was paused and why.
    public static func resume(_ projectId: String) -> PostgresQuery {
        """
        WITH old AS (
            SELECT project_id, paused AND (paused_until IS NULL OR paused_until > now()) AS paused, pause_reason
            FROM leadsync.projects WHERE project_id = \(projectId) FOR UPDATE
        )
        UPDATE leadsync.projects p SET paused = false, pause_reason = NULL, paused_until = NULL, updated_at = now()
        FROM old WHERE p.project_id = old.project_id
        RETURNING old.paused, old.pause_reason
        """
    }

    /// ProjectsSetLimits: `leadsync project set`; a nil value keeps the setting. Returns the project id.
    public static func setLimits(
        _ projectId: String, rateLimitRequests: Int?, rateLimitWindowMs: Int64?, maxBatchSize: Int?,
        maxInFlight: Int?, maxAttempts: Int?, maxRequestBytes: Int?
    ) -> PostgresQuery {
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
    }
}

extension LeadQueries {
    /// LeadsReleaseHeld: held leads back to `pending`, ready at once (SPEC §2, `leadsync release`
    /// and `project resume`). Leads held for `retries_exhausted` get a fresh round of attempts;
    /// `ambiguous` is kept. Returns (project_id, former held_reason, count).
    public static func releaseHeld(only project: String?, reasons: [String]) -> PostgresQuery {
        """
        WITH target AS (
            SELECT id, held_reason FROM leadsync.leads
            WHERE status = 'held' AND held_reason = ANY(\(reasons)::text[])
              AND (\(project)::text IS NULL OR project_id = \(project)::text)
            FOR UPDATE
        ), released AS (
            UPDATE leadsync.leads l SET status = 'pending', held_reason = NULL, next_attempt_at = NULL,
                attempt_count = CASE WHEN t.held_reason = 'retries_exhausted' THEN 0 ELSE l.attempt_count END,
                updated_at = now()
            FROM target t WHERE l.id = t.id AND l.status = 'held'
            RETURNING l.project_id, t.held_reason
        )
        SELECT project_id, held_reason, count(*)::int8 FROM released
        GROUP BY project_id, held_reason ORDER BY project_id, held_reason
        """
    }

    /// LeadsInsertResubmit: the corrected copy of a lead, a new `pending` lead pointing back
    /// at the original through `resubmit_of`. Returns the new id.
    public static func insertResubmit(_ lead: Lead, resubmitOf original: Int64) -> PostgresQuery {
        """
        INSERT INTO leadsync.leads (project_id, process_id, group_id, phone, email, name, first_name, last_name,
                                    reference_id, metadata, init, remote_lead_id, resubmit_of)
        VALUES (\(lead.projectId), \(lead.processId), \(lead.groupId), \(lead.phone), \(lead.email), \(lead.name),
                \(lead.firstName), \(lead.lastName), \(lead.referenceId), \(lead.metadata)::jsonb, \(lead.initialize),
                \(lead.remoteLeadId), \(original))
        RETURNING id
        """
    }

    /// LeadsCancelReplaced: a held lead replaced by its corrected copy is withdrawn, so the
    /// two can never both be sent.
    public static func cancelReplaced(_ id: Int64, by newId: Int64) -> PostgresQuery {
        """
        UPDATE leadsync.leads SET status = 'cancelled', held_reason = NULL,
            last_error = 'replaced by lead ' || \(newId)::int8 || ' (leadsync lead resubmit)', updated_at = now()
        WHERE id = \(id) AND status = 'held'
        """
    }
}

extension AttemptQueries {
    /// AttemptLeadsDeleteOlderThan: `leadsync prune`: the per-lead history of finished
    /// requests started before `cutoff`. Leads, invalid markers and the requests stay.
    /// Returns (rows deleted, requests they belonged to).
    public static func pruneLeadResults(before cutoff: Date) -> PostgresQuery {
        """
        WITH old AS (
            SELECT id FROM leadsync.submission_attempts WHERE started_at < \(cutoff) AND finished_at IS NOT NULL
        ), deleted AS (
            DELETE FROM leadsync.attempt_leads al USING old WHERE al.attempt_id = old.id
            RETURNING al.attempt_id
        )
        SELECT count(*)::int8, count(DISTINCT attempt_id)::int8 FROM deleted
        """
    }
}
