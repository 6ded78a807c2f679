import PostgresNIO

/// Named queries `/metrics` runs at scrape time (docs/operating.md §13), so an idle or
/// restarted worker still describes the database. Each reads the small `lead_counts`
/// table, a partial index, or one index probe per project; the transaction they run in
/// carries `scrapeStatementTimeout`, so a scrape never holds a pooled connection long.
public enum MetricsQueries {
    /// The longest any of these statements may run.
    public static let scrapeStatementTimeout: PostgresQuery = "SET LOCAL statement_timeout = '5s'"

    /// LeadCountsByProjectState: leads per project and state, the counters the report reads
    /// (migrations/0001_schema.sql, `lead_counts`), folded at read time.
    public static let leadCounts: PostgresQuery = """
        SELECT project_id, status, sum(delta)::int8 FROM leadsync.lead_counts
        GROUP BY project_id, status HAVING sum(delta) <> 0
        """

    /// LeadsHeldByReason: through the partial index `leads_held`, small by nature.
    public static let heldByReason: PostgresQuery = """
        SELECT project_id, held_reason, count(*)::int8 FROM leadsync.leads
        WHERE \(unescaped: ReadyLeads.held()) GROUP BY project_id, held_reason
        """

    /// ProjectsState: every project, whether it is paused now and why, the age in seconds
    /// of its oldest ready lead (pending and due, in flight included), and its lag as
    /// `leadsync report` counts it (the oldest pending lead, waiting for a retry or not);
    /// 0 when there is none. The oldest never-tried lead is the first of one of the
    /// project's arrival ranges (migration 0011); leads waiting for a retry are read
    /// through the small `leads_retry`.
    public static let projects: PostgresQuery = """
        SELECT p.project_id,
               leadsync.project_is_paused(p),
               p.pause_reason,
               coalesce(extract(epoch FROM now() - least(n.created_at, r.due_oldest)), 0)::float8,
               coalesce(extract(epoch FROM now() - least(n.created_at, r.oldest)), 0)::float8
        FROM leadsync.projects p
        LEFT JOIN LATERAL (SELECT \(unescaped: ReadyLeads.oldestNewCreatedAt(project: "p.project_id")) AS created_at) n ON true
        LEFT JOIN LATERAL (
            SELECT min(l.created_at) AS oldest,
                   min(l.created_at) FILTER (WHERE \(unescaped: ReadyLeads.dueNow("l."))) AS due_oldest
            FROM leadsync.leads l
            WHERE l.project_id = p.project_id AND \(unescaped: ReadyLeads.retrying("l."))) r ON true
        ORDER BY p.project_id
        """
}
