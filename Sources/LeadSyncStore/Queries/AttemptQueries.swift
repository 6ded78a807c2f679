import Foundation
import LeadSyncCore
import PostgresNIO

/// Named queries on `leadsync.submission_attempts` and `leadsync.attempt_leads`.
package enum AttemptQueries {
    /// AttemptsInsertFenced: records a request before it is sent — but only while this
    /// worker's lock session lives and the project's lock is held, so a worker that lost its
    /// lock can never start a request another worker might duplicate. No row: do not send.
    /// The lock session holds a key of its own (`ProjectLock.identify`) while it lives, and
    /// gives a project's lock back only after the project's lane has ended; so while both
    /// locks are held by someone, the project's is the session's. Each is probed with a
    /// shared lock that fails while someone holds it: two lookups of the lock table instead
    /// of reading all of it through `pg_locks` (about 1 ms with 1,000 projects locked:
    /// docs/operating.md §21). Prepared: it runs once per request. In the same round trip,
    /// so that a small project's lane needs neither a look of its own to delete them before
    /// it idles nor a statement for its phones (docs/operating.md §21):
    /// - the project's arrival rows in `doneArrivals` are deleted (`ArrivalRanges.done`:
    ///   every lead in them is now recorded or finished);
    /// - the phones `phoneKeys` are claimed for `phoneLeadIds`, plainly: never-tried leads'
    ///   phones are very likely free (`LeadStore.defersPhoneClaims`). One already held fails
    ///   the whole statement (unique violation), which then records and deletes nothing; the
    ///   caller judges the phones with `LeadStore.refusedPhones` and records again. Without
    ///   the probe `ClaimFreePhones` makes, a lead's claim cost 0.5 µs less of the 2.9 µs of
    ///   database CPU it took (docs/performance.md §10).
    ///
    /// One statement records one attempt or several, each of its own project (at most one
    /// each: a project's lane records one at a time), each fenced by its own locks: small
    /// projects' attempts go together while one is recorded (`StatementGroups` in the
    /// worker). A phone held fails them all; each is then recorded alone. Rows: the
    /// projects recorded and their attempts.
    package struct InsertFenced: PostgresPreparedStatement {
        package static let sql = """
            WITH attempt AS (
                INSERT INTO leadsync.submission_attempts (project_id, worker_id, lead_count, lead_ids, lease_expires_at)
                SELECT r.project, $4, r.hi - r.lo + 1, ($5::int8[])[r.lo:r.hi], now() + $6 * interval '1 millisecond'
                FROM unnest($1::text[], $2::int4[], $3::int4[], $7::int4[]) AS r(project, lo, hi, session)
                WHERE NOT pg_try_advisory_xact_lock_shared($8::int4, r.session)
                  AND NOT pg_try_advisory_xact_lock_shared($9::int4, hashtext(r.project))
                RETURNING project_id, id
            ), done AS (
                DELETE FROM leadsync.arrivals AS a
                WHERE a.id = ANY($11::int8[])
                  AND (a.project_id, a.id) IN (
                      SELECT d.project, d.id FROM unnest($10::text[], $11::int8[]) AS d(project, id)
                      WHERE d.project IN (SELECT project_id FROM attempt))
            ), phones AS (
                INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id)
                SELECT k.project, k.key, k.lead_id FROM unnest($12::text[], $13::text[], $14::int8[]) AS k(project, key, lead_id)
                WHERE k.project IN (SELECT project_id FROM attempt)
            )
            SELECT project_id, id FROM attempt
            """
        package typealias Row = (String, Int64)
        package var attempts: [LeadStore.NewAttempt]
        package var workerId: String
        package var lease: Duration

        package init(_ attempts: [LeadStore.NewAttempt], workerId: String, lease: Duration) {
            self.attempts = attempts
            self.workerId = workerId
            self.lease = lease
        }

        package func makeBindings() -> PostgresBindings {
            var projects: [String] = []
            var los: [Int32] = []
            var his: [Int32] = []
            var sessions: [Int32] = []
            var leadIds: [Int64] = []
            var doneProjects: [String] = []
            var done: [Int64] = []
            var phoneProjects: [String] = []
            var phoneKeys: [String] = []
            var phoneLeadIds: [Int64] = []
            for attempt in attempts {
                projects.append(attempt.project)
                los.append(Int32(leadIds.count + 1))
                leadIds.append(contentsOf: attempt.leadIds)
                his.append(Int32(leadIds.count))
                sessions.append(attempt.lock.sessionKey)
                doneProjects.append(contentsOf: repeatElement(attempt.project, count: attempt.doneArrivals.count))
                done.append(contentsOf: attempt.doneArrivals)
                phoneProjects.append(contentsOf: repeatElement(attempt.project, count: attempt.phones.keys.count))
                phoneKeys.append(contentsOf: attempt.phones.keys)
                phoneLeadIds.append(contentsOf: attempt.phones.leadIds)
            }
            var bindings = PostgresBindings(capacity: 14)
            bindings.append(TextArrayBind(projects))
            bindings.append(los)
            bindings.append(his)
            bindings.append(workerId)
            bindings.append(Int8ArrayBind(leadIds))
            bindings.append(lease.millisecondsValue)
            bindings.append(sessions)
            bindings.append(ProjectLock.sessionNamespace)
            bindings.append(ProjectLock.namespace)
            bindings.append(TextArrayBind(doneProjects))
            bindings.append(Int8ArrayBind(done))
            bindings.append(TextArrayBind(phoneProjects))
            bindings.append(TextArrayBind(phoneKeys))
            bindings.append(Int8ArrayBind(phoneLeadIds))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> (String, Int64) { try row.decode((String, Int64).self) }
    }

    /// AttemptsLock: the write-back locks its attempt first. The sweep closes attempts
    /// whose lease ran out (`abandonExpired`) and skips locked rows, so the two never act
    /// at once. If the sweep came first (the database was away longer than the lease),
    /// the answer is still written: the leads it put back are still pending and still
    /// kept from new requests by the lane that sent them, and resending them would only
    /// repeat a request Uservox has answered.
    package static func lock(id: Int64) -> PostgresQuery {
        "SELECT id FROM leadsync.submission_attempts WHERE id = \(id) FOR UPDATE"
    }

    /// AttemptsRenewLease: a live worker whose write-back waits on the database keeps its
    /// attempt from being taken for a dead worker's.
    package static func renewLease(id: Int64, lease: Duration) -> PostgresQuery {
        """
        UPDATE leadsync.submission_attempts
        SET lease_expires_at = greatest(lease_expires_at, now() + \(lease.millisecondsValue) * interval '1 millisecond')
        WHERE id = \(id) AND finished_at IS NULL
        """
    }

    /// AttemptsFinish: the attempt's result; `lead_ids` is dropped once the leads are written back.
    package static func finish(
        id: Int64, httpStatus: Int?, outcome: String, successCount: Int, errorCount: Int, unconfirmedCount: Int,
        error: String?
    ) -> PostgresQuery {
        let truncated = StorableText.clean(error, maxBytes: StorableText.attemptErrorBytes)
        return """
            UPDATE leadsync.submission_attempts SET
                finished_at = now(), http_status = \(httpStatus), outcome = \(outcome),
                success_count = \(successCount), error_count = \(errorCount), unconfirmed_count = \(unconfirmedCount),
                error = \(truncated), lead_ids = NULL, lease_expires_at = NULL
            WHERE id = \(id)
            """
    }

    /// AttemptsFinishAllAccepted: the write-backs of requests whose every lead was
    /// accepted (most of them, when all goes well), one or several, as one statement: the
    /// leads, their history rows and the attempts, atomically, in one round trip instead of
    /// five a request. Several small requests' write-backs go together while one is
    /// running (`StatementGroups` in the worker): one statement, one trigger run, one commit.
    /// Locks the attempts like `lock`, in id order, and writes an answer as `lock` says
    /// even when the sweep came first; an attempt whose row is gone (pruned) has nothing
    /// written, and its id is not returned.
    /// Same effects as `LeadQueries.setOutcomes` + `insertLeadResults` + `finish` for each
    /// such request. Prepared: it runs once per request or group.
    package struct FinishAllAccepted: PostgresPreparedStatement {
        package static let sql = """
            WITH open AS (
                SELECT id FROM leadsync.submission_attempts WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE
            ), input AS (
                SELECT * FROM unnest($4::int8[], $5::int8[], $6::text[]) AS c(attempt_id, id, remote_id)
                WHERE c.attempt_id IN (SELECT id FROM open)
            ), accepted AS (
                UPDATE leadsync.leads AS l SET
                    status = 'submitted', remote_id = coalesce(nullif(c.remote_id, ''), l.remote_id),
                    held_reason = NULL, submitted_at = now(), attempt_count = l.attempt_count + 1, ambiguous = false,
                    last_error = NULL, next_attempt_at = NULL, updated_at = now()
                FROM input c
                WHERE l.id = c.id AND l.status = 'pending'
            ), history AS (
                INSERT INTO leadsync.attempt_leads (attempt_id, lead_id, result)
                SELECT c.attempt_id, c.id, 'accepted' FROM input c
            )
            UPDATE leadsync.submission_attempts AS a SET
                finished_at = now(), http_status = nullif(r.http_status, 0), outcome = 'ok',
                success_count = r.leads, error_count = 0, unconfirmed_count = 0,
                error = NULL, lead_ids = NULL, lease_expires_at = NULL
            FROM unnest($1::int8[], $2::int4[], $3::int4[]) AS r(id, http_status, leads)
            WHERE a.id = r.id AND a.id IN (SELECT id FROM open)
            RETURNING a.id
            """
        package typealias Row = Int64
        package var attempts: [LeadStore.AcceptedWriteBack]

        package init(_ attempts: [LeadStore.AcceptedWriteBack]) {
            self.attempts = attempts
        }

        package func makeBindings() -> PostgresBindings {
            var leadCount = 0
            for attempt in attempts { leadCount += attempt.leadIds.count }
            var leadAttempts: [Int64] = []
            var leadIds: [Int64] = []
            var remoteIds: [String] = []
            leadAttempts.reserveCapacity(leadCount)
            leadIds.reserveCapacity(leadCount)
            remoteIds.reserveCapacity(leadCount)
            for attempt in attempts {
                leadAttempts.append(contentsOf: repeatElement(attempt.attemptId, count: attempt.leadIds.count))
                leadIds.append(contentsOf: attempt.leadIds)
                remoteIds.append(contentsOf: attempt.remoteIds)
            }
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(Int8ArrayBind(attempts.map(\.attemptId)))
            // 0: no status (never an HTTP status).
            bindings.append(attempts.map { Int32($0.httpStatus ?? 0) })
            bindings.append(attempts.map { Int32($0.leadIds.count) })
            bindings.append(Int8ArrayBind(leadAttempts))
            bindings.append(Int8ArrayBind(leadIds))
            bindings.append(TextArrayBind(remoteIds))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// AttemptLeadsInsertMany: each lead's result in this attempt (history).
    package static func insertLeadResults(
        attemptId: Int64, leadIds: [Int64], results: [String], messages: [String]
    ) -> PostgresQuery {
        """
        INSERT INTO leadsync.attempt_leads (attempt_id, lead_id, result, message)
        SELECT \(attemptId), r.lead_id, r.result, nullif(r.message, '')
        FROM unnest(\(leadIds)::int8[], \(results)::text[], \(messages)::text[]) AS r(lead_id, result, message)
        """
    }

    /// AttemptsOpenCount: requests of a project still out there (another worker's, or this
    /// one's from before its lock session was lost). A new owner waits for them.
    package static func openCount(project: String) -> PostgresQuery {
        """
        SELECT count(*) FROM leadsync.submission_attempts WHERE project_id = \(project) AND finished_at IS NULL
        """
    }

    /// AttemptsAbandonExpired: open attempts whose lease ran out belong to a dead worker.
    /// Closes them and puts their leads back to pending, flagged ambiguous (docs/contract.md §5), in one
    /// statement; returns (attempt id, project, leads put back).
    package static func abandonExpired() -> PostgresQuery {
        """
        WITH expired AS (
            SELECT id, project_id, coalesce(lead_ids, '{}') AS lead_ids FROM leadsync.submission_attempts
            WHERE finished_at IS NULL AND lease_expires_at < now()
            FOR UPDATE SKIP LOCKED
        ), closed AS (
            UPDATE leadsync.submission_attempts a SET finished_at = now(), outcome = 'abandoned',
                error = 'the worker stopped before writing the result back', lead_ids = NULL, lease_expires_at = NULL
            FROM expired e WHERE a.id = e.id
            RETURNING a.id
        ), requeued AS (
            UPDATE leadsync.leads l SET ambiguous = true, next_attempt_at = coalesce(l.next_attempt_at, now()),
                last_error = 'outcome unknown: the worker stopped mid-request', updated_at = now()
            FROM (SELECT e.id AS attempt_id, unnest(e.lead_ids) AS lead_id FROM expired e) x
            WHERE l.id = x.lead_id AND l.status = 'pending'
            RETURNING x.attempt_id
        )
        SELECT e.id, e.project_id, (SELECT count(*) FROM requeued r WHERE r.attempt_id = e.id)::int8
        FROM expired e
        """
    }

    // MARK: operators' reads and writes of the history

    /// History rows, and the requests they belong to.
    package struct PrunedRow: Sendable {
        package let rows: Int
        package let attempts: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            rows = try cells.next()
            attempts = try cells.next()
        }
    }

    /// AttemptLeadsCountOlderThan: what `prune` would delete.
    package static func prunable(before cutoff: Date) -> RowQuery<PrunedRow> {
        RowQuery(
            """
            SELECT count(*)::int8, count(DISTINCT al.attempt_id)::int8
            FROM leadsync.attempt_leads al JOIN leadsync.submission_attempts a ON a.id = al.attempt_id
            WHERE a.started_at < \(cutoff) AND a.finished_at IS NOT NULL
            """
        ) { try PrunedRow($0) }
    }

    /// AttemptLeadsDeleteOlderThan: `leadsync prune`: the per-lead history of finished
    /// requests started before `cutoff`. Leads, invalid markers and the requests stay.
    package static func pruneLeadResults(before cutoff: Date) -> RowQuery<PrunedRow> {
        RowQuery(
            """
            WITH old AS (
                SELECT id FROM leadsync.submission_attempts WHERE started_at < \(cutoff) AND finished_at IS NOT NULL
            ), deleted AS (
                DELETE FROM leadsync.attempt_leads al USING old WHERE al.attempt_id = old.id
                RETURNING al.attempt_id
            )
            SELECT count(*)::int8, count(DISTINCT attempt_id)::int8 FROM deleted
            """
        ) { try PrunedRow($0) }
    }
}

/// The advisory lock that makes one worker the only sender for a project (docs/contract.md §5).
/// Two-key form: a LeadSync namespace and `hashtext(project_id)`.
public struct ProjectLock: Sendable {
    public static let namespace: Int32 = 0x1EAD
    /// The namespace of the key each lock session holds while it lives (`identify`).
    public static let sessionNamespace: Int32 = 0x1EAE
    /// The lock session's own key (for the fence in `InsertFenced`).
    public let sessionKey: Int32

    public init(sessionKey: Int32) { self.sessionKey = sessionKey }

    /// ProjectLockIdentify: the lock session takes a key of its own, held until it ends, so
    /// other sessions can tell cheaply that it lives (`InsertFenced`). False: another
    /// session holds this key; pick another.
    public static func identify(key: Int32) -> PostgresQuery {
        "SELECT pg_try_advisory_lock(\(sessionNamespace), \(key))"
    }

    public static func tryLock(project: String) -> PostgresQuery {
        "SELECT pg_try_advisory_lock(\(namespace), hashtext(\(project)))"
    }

    public static func unlock(project: String) -> PostgresQuery {
        "SELECT pg_advisory_unlock(\(namespace), hashtext(\(project)))"
    }

    public static let backendPid: PostgresQuery = "SELECT pg_backend_pid()"

    /// ProjectLockExchange: gives the locks of `ended` back, then takes those of `projects`
    /// it can, in one round trip (a lane ends and a waiting project takes its place: docs/
    /// operating.md §21). Rows: `(false, _)` once for the locks given back, then `(true,
    /// project)` for each lock taken (an append runs its parts in order; a project in both
    /// lists is held either way, as advisory locks stack).
    public static func exchange(giveBack ended: [String], take projects: [String]) -> PostgresQuery {
        """
        SELECT false, count(*) FILTER (WHERE pg_advisory_unlock(\(namespace), hashtext(p)))::text
        FROM unnest(\(ended)::text[]) AS p
        UNION ALL
        SELECT true, p FROM unnest(\(projects)::text[]) AS p WHERE pg_try_advisory_lock(\(namespace), hashtext(p))
        """
    }

    /// ProjectLockTable: what bounds the server's shared lock table, where advisory locks
    /// live: max_locks_per_transaction × (max_connections + max_prepared_transactions).
    public static let lockTable: PostgresQuery = """
        SELECT current_setting('max_locks_per_transaction')::int8, current_setting('max_connections')::int8,
               current_setting('max_prepared_transactions')::int8
        """
}
