/// docs/contract.md §2: which pending leads are ready to send, written once for every query
/// that picks or counts them: the worker's claims and sweep, `check`, `report` and the
/// metrics. A lead out in a request stays `pending` too (listed in its open attempt): the
/// worker excludes those it holds by id.
///
/// No index names `status` (migration 0011: write-backs stay HOT). Never-tried leads are
/// found through `leadsync.arrivals` (the id ranges where they may be) and read through
/// `leads_project_id`; leads put back for a retry through `leads_retry`, whose predicate is
/// `retryIndexed` word for word, so the planner can prove the index usable (a test ties
/// them). `alias` qualifies the columns (`"l."`).
enum ReadyLeads {
    /// Never tried: ready at once.
    static func new(_ alias: String = "") -> String {
        "\(alias)status = 'pending' AND \(alias)next_attempt_at IS NULL"
    }

    /// `leads_retry`'s predicate: a lead leaving `pending` has its `next_attempt_at` cleared.
    static func retryIndexed(_ alias: String = "") -> String { "\(alias)next_attempt_at IS NOT NULL" }

    /// Put back for a retry, due or not.
    static func retrying(_ alias: String = "") -> String {
        "\(retryIndexed(alias)) AND \(alias)status = 'pending'"
    }

    /// Of those put back for a retry, the ones whose time has come.
    static func dueNow(_ alias: String = "") -> String { "\(alias)next_attempt_at <= now()" }

    /// Put back for a retry whose time has come: ready again.
    static func due(_ alias: String = "") -> String { "\(retrying(alias)) AND \(dueNow(alias))" }

    /// The `created_at` of project `project`'s (an SQL expression) oldest never-tried pending
    /// lead, or NULL: the first such lead of each of its arrival ranges, one short range scan
    /// of `leads_project_id` each (a lead out in a request counts, as it is pending).
    static func oldestNewCreatedAt(project: String) -> String {
        """
        (SELECT min(x.created_at) FROM leadsync.arrivals a
         CROSS JOIN LATERAL (
             SELECT l.created_at FROM leadsync.leads l
             WHERE l.project_id = \(project) AND (l.project_id, l.id) >= (\(project), a.first_id)
               AND (l.project_id, l.id) <= (\(project), a.last_id) AND \(new("l."))
             ORDER BY l.project_id, l.id LIMIT 1) x
         WHERE a.project_id = \(project))
        """
    }

    /// How many leads project `project` (an SQL expression) has ready, as a size and not a
    /// list: of its newest `limit` leads (an SQL expression) those never tried, plus its
    /// retries come due, at most `limit` of them. A backlog drains oldest first, so while
    /// more than `limit` are left its newest are all never tried; a quiet project's newest
    /// are mostly sent. At most `limit` entries of `leads_project_id` read backwards and
    /// `limit` of `leads_retry`, and no arrival rows, whatever the project's history.
    /// Never-tried leads far below its newest (released by an operator) are not seen: such
    /// a project counts as small until its first claim says otherwise.
    static func readySize(project: String, limit: String) -> String {
        """
        ((SELECT count(*) FROM (
              SELECT l.status, l.next_attempt_at FROM leadsync.leads l WHERE l.project_id = \(project)
              ORDER BY l.project_id DESC, l.id DESC LIMIT \(limit)) AS x
          WHERE \(new("x.")))
         + (SELECT count(*) FROM (
              SELECT 1 FROM leadsync.leads l WHERE l.project_id = \(project) AND \(due("l.")) LIMIT \(limit)) AS y))
        """
    }

    /// `leads_held`'s predicate: held leads (CHECK leads_held_has_reason), by a column the
    /// usual write-back leaves NULL.
    static func held(_ alias: String = "") -> String {
        "\(alias)held_reason IS NOT NULL AND \(alias)status = 'held'"
    }
}
