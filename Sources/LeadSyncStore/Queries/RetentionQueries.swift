import Foundation
import LeadSyncCore
import PostgresNIO

/// Named queries of `leadsync prune --leads` (docs/contract.md §7.3). A lead may go when it is
/// finished (`leadsync.lead_is_finished`, migration 0008), in one of the chosen states, last
/// changed before the cutoff (`updated_at`: when it finished, since a finished lead is
/// never changed again), and listed in no open attempt (`openLeadIds`). The leads are walked in primary-key
/// order, a window of ids at a time, so each transaction touches a bounded number of rows
/// and the worker's write path carries no extra index for the prune (docs/performance.md).
package enum RetentionQueries {
    /// LeadsPrunableWindowEnd: the id that closes the next window of `size` leads after
    /// `afterId`, or nil when no lead is left. Reads the primary key only.
    package static func windowEnd(after afterId: Int64, size: Int) -> RowQuery<Int64?> {
        RowQuery(
            """
            SELECT max(id) FROM (
                SELECT id FROM leadsync.leads WHERE id > \(afterId) ORDER BY id LIMIT \(size)
            ) AS w
            """
        ) { try $0.decode(Int64?.self) }
    }

    /// The highest lead id now: the end of the walk, for the progress line.
    package static let lastId = RowQuery("SELECT max(id) FROM leadsync.leads") { try $0.decode(Int64?.self) }

    /// A lead about to be pruned: enough to name its phone claim.
    package struct PrunableRow: Sendable {
        package let id: Int64
        package let projectId: String
        package let status: String
        /// `Lead.phoneKey`: the claim this lead may hold (worked out in Swift, where the rule lives).
        package let phoneKey: String?

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            id = try cells.next()
            projectId = try cells.next()
            status = try cells.next()
            let phone: String? = try cells.next()
            let remoteLeadId: String? = try cells.next()
            phoneKey = Lead(id: id, projectId: projectId, phone: phone, remoteLeadId: remoteLeadId).phoneKey
        }
    }

    /// AttemptsOpenLeadIds: the leads open attempts carry. Such a lead is never pruned,
    /// whatever its status says: the request carrying it is still out and its write-back
    /// will add history for it. Read before each window and bound as a constant, which
    /// PostgreSQL hashes; as a subquery the list was searched linearly for every lead.
    package static let openLeadIds = RowQuery(
        """
        SELECT coalesce(array_agg(x.id), '{}')::int8[] FROM (
            SELECT unnest(lead_ids) AS id FROM leadsync.submission_attempts
            WHERE finished_at IS NULL AND lead_ids IS NOT NULL
        ) AS x
        """
    ) { try $0.decode([Int64].self) }

    /// LeadsLockPrunable: the prunable leads in ids (`afterId`, `upToId`], locked, except
    /// those in flight (`openLeadIds`). A lead locked by someone else (a write-back, an
    /// operator) is skipped, not waited for: the next prune takes it. The status and the
    /// cutoff are checked again on the row locked.
    package static func lockPrunable(
        afterId: Int64, upToId: Int64, states: [LeadState], before cutoff: Date, except inFlight: [Int64]
    ) -> RowQuery<PrunableRow> {
        RowQuery(
            """
            SELECT l.id, l.project_id, l.status, l.phone, l.remote_lead_id FROM leadsync.leads l
            WHERE l.id > \(afterId) AND l.id <= \(upToId)
              AND l.status = ANY(\(states.map(\.rawValue))::text[]) AND l.updated_at < \(cutoff)
              AND leadsync.lead_is_finished(l.status) AND l.id <> ALL(\(inFlight)::int8[])
            ORDER BY l.id
            FOR UPDATE SKIP LOCKED
            """
        ) { try PrunableRow($0) }
    }

    /// What one window's deletion removed.
    package struct DeletedRow: Sendable {
        package let projectId: String
        package let status: String
        package let leads: Int
        package let history: Int
        package let markers: Int
        package let claims: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            status = try cells.next()
            leads = try cells.next()
            history = try cells.next()
            markers = try cells.next()
            claims = try cells.next()
        }
    }

    /// LeadsDeletePruned: the locked leads and all that names them, in one statement: their
    /// `attempt_leads` history (found through its BRIN index by the window's id range; the
    /// `+ 0` keeps the id list out of that index scan, where each block range was checked
    /// against all 5000 ids: 185 ms a window, 7 ms as a hashed filter, 300,000 leads),
    /// their invalid markers, and the phone claims they still hold (a claim another lead
    /// has taken over stays). `lead_counts` follows through the delete trigger (0001).
    /// Rows per (project, state); the other counts are the window's, on every row.
    package static func deletePruned(
        _ leads: [PrunableRow], afterId: Int64, upToId: Int64
    ) -> RowQuery<DeletedRow> {
        let ids = leads.map(\.id)
        let claimed = leads.filter { $0.phoneKey != nil }
        let claimProjects = claimed.map(\.projectId)
        let claimKeys = claimed.map { $0.phoneKey ?? "" }
        let claimIds = claimed.map(\.id)
        return RowQuery(
            """
            WITH gone AS (
                DELETE FROM leadsync.leads WHERE id = ANY(\(ids)::int8[])
                RETURNING project_id, status
            ), history AS (
                DELETE FROM leadsync.attempt_leads
                WHERE lead_id > \(afterId) AND lead_id <= \(upToId) AND lead_id + 0 = ANY(\(ids)::int8[])
                RETURNING 1
            ), markers AS (
                DELETE FROM leadsync.invalid_leads WHERE lead_id = ANY(\(ids)::int8[])
                RETURNING 1
            ), claims AS (
                DELETE FROM leadsync.phone_claims c
                USING unnest(\(claimProjects)::text[], \(claimKeys)::text[], \(claimIds)::int8[]) AS k(project_id, key, lead_id)
                WHERE c.project_id = k.project_id AND c.phone_key = k.key AND c.lead_id = k.lead_id
                RETURNING 1
            )
            SELECT project_id, status, count(*)::int8,
                   (SELECT count(*) FROM history)::int8, (SELECT count(*) FROM markers)::int8,
                   (SELECT count(*) FROM claims)::int8
            FROM gone GROUP BY project_id, status ORDER BY project_id, status
            """
        ) { try DeletedRow($0) }
    }

    /// Leads per project and state.
    package struct CountRow: Sendable {
        package let projectId: String
        package let status: String
        package let leads: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            status = try cells.next()
            leads = try cells.next()
        }
    }

    /// LeadsCountPrunable: `--dry-run`: what the prune would delete now, per project and state.
    package static func countPrunable(states: [LeadState], before cutoff: Date, except inFlight: [Int64])
        -> RowQuery<CountRow>
    {
        RowQuery(
            """
            SELECT l.project_id, l.status, count(*)::int8 FROM leadsync.leads l
            WHERE l.status = ANY(\(states.map(\.rawValue))::text[]) AND l.updated_at < \(cutoff)
              AND leadsync.lead_is_finished(l.status) AND l.id <> ALL(\(inFlight)::int8[])
            GROUP BY l.project_id, l.status ORDER BY l.project_id, l.status
            """
        ) { try CountRow($0) }
    }
}
