import LeadSyncCore
import PostgresNIO

/// Named queries on `leadsync.leads`. The worker owns a project exclusively (advisory
/// lock), so claims are plain reads: no claim-time UPDATE (PERFORMANCE.md), and every
/// write-back is guarded by `status = 'pending'` so an operator's change wins.
public enum LeadQueries {
    static let columns = """
        id, project_id, process_id, group_id, phone, email, name, first_name, last_name, reference_id,
        metadata::text, init, remote_lead_id, attempt_count, ambiguous
        """

    /// Walks the cells once, each decoded as its concrete type: the random-access row and
    /// the tuple (parameter pack) decoders were 16 % of the worker's CPU, mostly generic
    /// metadata lookups, at 1000 rows per claim.
    public static func decodeLead(_ row: PostgresRow) throws -> Lead {
        var cells = row.makeIterator()
        func next() throws -> PostgresCell {
            guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
            return cell
        }
        return Lead(
            id: try next().decode(Int64.self), projectId: try next().decode(String.self),
            processId: try next().decode(String?.self), groupId: try next().decode(String?.self),
            phone: try next().decode(String?.self), email: try next().decode(String?.self),
            name: try next().decode(String?.self), firstName: try next().decode(String?.self),
            lastName: try next().decode(String?.self), referenceId: try next().decode(String?.self),
            metadata: try next().decode(String.self), initialize: try next().decode(Bool.self),
            remoteLeadId: try next().decode(String?.self), attemptCount: try next().decode(Int.self),
            ambiguous: try next().decode(Bool.self))
    }

    /// LeadsClaimNew: never-tried leads after `afterId`, oldest first. Prepared: it runs
    /// once per batch, and its plan (the partial index, in its own order) holds for any
    /// parameters.
    public struct ClaimNew: PostgresPreparedStatement {
        public static let sql = """
            SELECT \(columns) FROM leadsync.leads
            WHERE project_id = $1 AND status = 'pending' AND next_attempt_at IS NULL AND id > $2
            ORDER BY project_id, id LIMIT $3
            """
        public typealias Row = Lead
        public var project: String
        public var afterId: Int64
        public var limit: Int

        public init(project: String, afterId: Int64, limit: Int) {
            self.project = project
            self.afterId = afterId
            self.limit = limit
        }

        public func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(project)
            bindings.append(afterId)
            bindings.append(Int64(limit))
            return bindings
        }

        public func decodeRow(_ row: PostgresRow) throws -> Lead { try decodeLead(row) }
    }

    /// LeadsClaimDueRetries: leads put back for a retry whose time has come, most overdue first,
    /// except those this worker already holds (in flight or buffered: `except`).
    public static func claimDueRetries(project: String, except: [Int64], limit: Int) -> PostgresQuery {
        """
        SELECT \(unescaped: columns) FROM leadsync.leads
        WHERE project_id = \(project) AND status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at <= now()
          AND id <> ALL(\(except)::int8[])
        ORDER BY project_id, next_attempt_at, id LIMIT \(limit)
        """
    }

    /// LeadsClaimGaps: never-tried leads at or below `upToId` — those whose transaction
    /// committed after later ids were already read, except those this worker already holds.
    /// (`<> ALL` of a bound array is hashed by PostgreSQL, not a linear search per row.)
    public static func claimGaps(project: String, upToId: Int64, except: [Int64], limit: Int) -> PostgresQuery {
        """
        SELECT \(unescaped: columns) FROM leadsync.leads
        WHERE project_id = \(project) AND status = 'pending' AND next_attempt_at IS NULL AND id <= \(upToId)
          AND id <> ALL(\(except)::int8[])
        ORDER BY project_id, id LIMIT \(limit)
        """
    }

    /// PhoneClaimsInsertFree: the common case of `claimPhones` without its cost. Phones no
    /// lead holds yet are inserted plainly; the others come back as (key, lead, holder) for
    /// `claimPhones` to judge. `INSERT … ON CONFLICT` pays a speculative insertion per row:
    /// 10.6 µs of database CPU per lead for a batch's claims and write-back with it, 9.7 µs
    /// this way (PERFORMANCE.md's method). The lookup is LATERAL with a LIMIT so its plan
    /// stays one index probe per phone: a join let the planner hash the project's every
    /// claim. A phone claimed concurrently (another worker taking the project over) fails
    /// the insert with a unique violation; the caller then uses `claimPhones`.
    public struct ClaimFreePhones: PostgresPreparedStatement {
        public static let sql = """
            WITH probe AS MATERIALIZED (
                SELECT k.key, k.lead_id, c.lead_id AS holder
                FROM unnest($2::text[], $3::int8[]) AS k(key, lead_id)
                LEFT JOIN LATERAL (
                    SELECT c.lead_id FROM leadsync.phone_claims c
                    WHERE c.project_id = $1 AND c.phone_key = k.key LIMIT 1
                ) AS c ON true
            ), inserted AS (
                INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id)
                SELECT $1, key, lead_id FROM probe WHERE holder IS NULL
            )
            SELECT key, lead_id, holder FROM probe WHERE holder IS NOT NULL
            """
        public typealias Row = (key: String, leadId: Int64, holder: Int64)
        public var project: String
        public var keys: [String]
        public var leadIds: [Int64]

        public init(project: String, keys: [String], leadIds: [Int64]) {
            self.project = project
            self.keys = keys
            self.leadIds = leadIds
        }

        public func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(project)
            bindings.append(keys)
            bindings.append(leadIds)
            return bindings
        }

        public func decodeRow(_ row: PostgresRow) throws -> Row {
            let (key, leadId, holder) = try row.decode((String, Int64, Int64).self)
            return (key, leadId, holder)
        }
    }

    /// PhoneClaimsTakeMany: each lead claims its normalized phone in the project. A phone held
    /// by another lead that is still pending or submitted is not taken: the newcomer is a
    /// local duplicate (SPEC §3, the earliest lead wins). Returns the leads that hold their
    /// phone. Only for the phones `ClaimFreePhones` found held, so not worth preparing.
    public static func claimPhones(project: String, keys: [String], leadIds: [Int64]) -> PostgresQuery {
        """
        INSERT INTO leadsync.phone_claims AS c (project_id, phone_key, lead_id)
        SELECT \(project), k.key, k.lead_id FROM unnest(\(keys)::text[], \(leadIds)::int8[]) AS k(key, lead_id)
        ON CONFLICT (project_id, phone_key) DO UPDATE SET lead_id = EXCLUDED.lead_id
        WHERE c.lead_id = EXCLUDED.lead_id
           OR NOT EXISTS (SELECT 1 FROM leadsync.leads o
                          WHERE o.id = c.lead_id AND o.status IN ('pending', 'submitted'))
        RETURNING lead_id
        """
    }

    /// LeadsSetOutcomeMany: every lead of one request to its new state in one statement.
    /// `delaysMs` applies to leads going back to `pending`. Only rows still `pending` change.
    public static func setOutcomes(_ rows: OutcomeRows, countsAttempt: Bool) -> PostgresQuery {
        """
        UPDATE leadsync.leads AS l SET
            status = c.status,
            remote_id = coalesce(nullif(c.remote_id, ''), l.remote_id),
            held_reason = nullif(c.held_reason, ''),
            next_attempt_at = CASE WHEN c.status = 'pending'
                                   THEN now() + c.delay_ms * interval '1 millisecond'
                                   ELSE l.next_attempt_at END,
            submitted_at = CASE WHEN c.status = 'submitted' THEN now() ELSE l.submitted_at END,
            attempt_count = l.attempt_count + \(countsAttempt ? 1 : 0),
            ambiguous = c.ambiguous,
            last_error = nullif(c.last_error, ''),
            updated_at = now()
        FROM unnest(\(rows.ids)::int8[], \(rows.statuses)::text[], \(rows.remoteIds)::text[], \(rows.heldReasons)::text[], \(rows.delaysMs)::int8[], \(rows.ambiguous)::bool[], \(rows.lastErrors)::text[])
             AS c(id, status, remote_id, held_reason, delay_ms, ambiguous, last_error)
        WHERE l.id = c.id AND l.status = 'pending'
        """
    }

    /// InvalidLeadsInsertMany: the invalid markers, one per lead, never rewritten.
    public static func insertInvalid(
        project: String, leadIds: [Int64], reasons: [String], messages: [String], sources: [String],
        attemptId: Int64?
    ) -> PostgresQuery {
        """
        INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source, attempt_id)
        SELECT i.lead_id, \(project), i.reason, i.message, i.source, \(attemptId)
        FROM unnest(\(leadIds)::int8[], \(reasons)::text[], \(messages)::text[], \(sources)::text[]) AS i(lead_id, reason, message, source)
        JOIN leadsync.leads l ON l.id = i.lead_id AND l.status = 'invalid'
        ON CONFLICT (lead_id) DO NOTHING
        """
    }

    /// LeadsHoldPending: every pending lead of a project waits (e.g. `token_missing`).
    public static func holdPending(project: String, reason: HeldReason, message: String) -> PostgresQuery {
        """
        WITH held AS (
            UPDATE leadsync.leads SET status = 'held', held_reason = \(reason.rawValue), last_error = \(message),
                                      updated_at = now()
            WHERE project_id = \(project) AND status = 'pending'
            RETURNING 1
        )
        SELECT count(*) FROM held
        """
    }

    /// LeadsRelease: held leads of a project with one reason go back to pending.
    public static func release(project: String, reason: HeldReason) -> PostgresQuery {
        """
        UPDATE leadsync.leads SET status = 'pending', held_reason = NULL, next_attempt_at = NULL, updated_at = now()
        WHERE project_id = \(project) AND status = 'held' AND held_reason = \(reason.rawValue)
        """
    }

    /// LeadsMarkAmbiguous: leads of a request whose answer could not be stored may have
    /// reached Uservox; they are tried again after `delay`, and a duplicate answer then
    /// confirms them (docs/contract.md §3).
    public static func markAmbiguous(leadIds: [Int64], delay: Duration, message: String) -> PostgresQuery {
        """
        UPDATE leadsync.leads SET ambiguous = true,
            next_attempt_at = now() + \(delay.millisecondsValue) * interval '1 millisecond',
            last_error = \(StorableText.clean(message, maxBytes: StorableText.messageBytes)), updated_at = now()
        WHERE id = ANY(\(leadIds)) AND status = 'pending'
        """
    }
}

/// Parallel arrays for `LeadQueries.setOutcomes` (PostgresNIO binds arrays, not tuples;
/// an empty string stands for NULL).
public struct OutcomeRows: Sendable {
    public var ids: [Int64] = []
    public var statuses: [String] = []
    public var remoteIds: [String] = []
    public var heldReasons: [String] = []
    public var delaysMs: [Int64] = []
    public var ambiguous: [Bool] = []
    public var lastErrors: [String] = []

    public init() {}

    public mutating func append(
        id: Int64, status: LeadState, remoteId: String? = nil, heldReason: HeldReason? = nil,
        delay: Duration = .zero, ambiguous: Bool = false, lastError: String? = nil
    ) {
        ids.append(id)
        statuses.append(status.rawValue)
        remoteIds.append(StorableText.clean(remoteId ?? "", maxBytes: StorableText.messageBytes))
        heldReasons.append(heldReason?.rawValue ?? "")
        delaysMs.append(delay.millisecondsValue)
        self.ambiguous.append(ambiguous)
        lastErrors.append(StorableText.clean(lastError ?? "", maxBytes: StorableText.messageBytes))
    }

    public var isEmpty: Bool { ids.isEmpty }
}
