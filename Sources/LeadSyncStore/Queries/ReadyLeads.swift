/// docs/contract.md §2: which pending leads are ready to send, written once for every query
/// that picks or counts them: the worker's claims and sweep, `check`, `report` and the
/// metrics. Each fragment is its partial index's predicate word for word (migration 0001:
/// `leads_pending_new`, `leads_pending_retry`), so the planner can prove the index usable;
/// `alias` qualifies the columns (`"l."`). A lead out in a request stays `pending` too
/// (listed in its open attempt): the worker excludes those it holds by id.
enum ReadyLeads {
    /// Never tried: ready at once.
    static func new(_ alias: String = "") -> String {
        "\(alias)status = 'pending' AND \(alias)next_attempt_at IS NULL"
    }

    /// Put back for a retry, due or not.
    static func retrying(_ alias: String = "") -> String {
        "\(alias)status = 'pending' AND \(alias)next_attempt_at IS NOT NULL"
    }

    /// Of those put back for a retry, the ones whose time has come.
    static func dueNow(_ alias: String = "") -> String { "\(alias)next_attempt_at <= now()" }

    /// Put back for a retry whose time has come: ready again.
    static func due(_ alias: String = "") -> String { "\(retrying(alias)) AND \(dueNow(alias))" }
}
