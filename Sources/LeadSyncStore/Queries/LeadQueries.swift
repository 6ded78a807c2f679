import LeadSyncCore
import PostgresNIO

/// Named queries on `leadsync.leads`. The worker owns a project exclusively (advisory
/// lock), so claims are plain reads: no claim-time UPDATE (docs/performance.md), and every
/// write-back is guarded by `status = 'pending'` so an operator's change wins.
package enum LeadQueries {
    static let columns = """
        id, project_id, process_id, group_id, phone, email, name, first_name, last_name, reference_id,
        metadata::text, init, remote_lead_id, attempt_count, ambiguous
        """

    /// A claimed lead as one row of texts (`ClaimArrived` aggregates them into one `text[]`
    /// of a row per lead): `columns` without the project, which is the statement's own
    /// parameter. The worker's cost of a claim was mostly per row and per cell (PostgresNIO's
    /// message, row and `PostgresCell`, with its column's name, for each of 15 cells: about
    /// a third of its CPU per lead, docs/performance.md §9); one array read straight from
    /// its bytes has neither. Same fields, same order as `columns`.
    static let claimTexts = """
        ARRAY[id::text, process_id, group_id, phone, email, name, first_name, last_name, reference_id, metadata::text,
        init::text, remote_lead_id, attempt_count::text, ambiguous::text]
        """
    /// How many texts `claimTexts` has.
    static let claimTextCount = 14

    /// The leads of `project` in a row of `ClaimArrived`: its one cell, a `text[]` of
    /// `claimTexts` rows, or NULL for none.
    package static func decodeClaimedLeads(_ row: PostgresRow, project: String) throws -> [Lead] {
        var cells = row.makeIterator()
        guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
        return try decodeClaimedLeads(cell, project: project)
    }

    /// The leads of `project` in a cell of `claimTexts` rows (NULL: none).
    package static func decodeClaimedLeads(_ cell: PostgresCell, project: String) throws -> [Lead] {
        guard let bytes = cell.bytes else { return [] }
        guard cell.dataType == .textArray, cell.format == .binary else {
            throw PostgresDecodingError.Code.typeMismatch
        }
        var texts = try PackedTexts(bytes, columns: claimTextCount)
        var leads: [Lead] = []
        leads.reserveCapacity(texts.rows)
        for _ in 0..<texts.rows {
            leads.append(
                Lead(
                    id: try texts.int64(), projectId: project,
                    processId: try texts.next(), groupId: try texts.next(), phone: try texts.next(),
                    email: try texts.next(), name: try texts.next(), firstName: try texts.next(),
                    lastName: try texts.next(), referenceId: try texts.next(),
                    metadata: try texts.required(), initialize: try texts.bool(),
                    remoteLeadId: try texts.next(), attemptCount: Int(try texts.int64()), ambiguous: try texts.bool()))
        }
        guard texts.atEnd else { throw PostgresDecodingError.Code.failure }
        return leads
    }

    /// The elements of a two-dimensional `text[]` (`rows` × `columns`) in PostgreSQL's
    /// binary array format: dimensions, null flag, element type, each dimension's length and
    /// lower bound; then each element's length (-1 for NULL) and bytes, row by row.
    /// Anything else is a decoding error, never a crash or a wrong field.
    struct PackedTexts {
        private var buffer: ByteBuffer
        let rows: Int

        init(_ bytes: ByteBuffer, columns: Int) throws {
            buffer = bytes
            guard buffer.readInteger(as: Int32.self) == 2, let flags = buffer.readInteger(as: Int32.self),
                flags == 0 || flags == 1, buffer.readInteger(as: UInt32.self) == PostgresDataType.text.rawValue,
                let rows = buffer.readInteger(as: Int32.self), rows >= 0, buffer.readInteger(as: Int32.self) != nil,
                buffer.readInteger(as: Int32.self) == Int32(columns), buffer.readInteger(as: Int32.self) != nil,
                // Each element takes at least its length: a bound before reserving room.
                Int(rows) * columns * 4 <= buffer.readableBytes
            else { throw PostgresDecodingError.Code.failure }
            self.rows = Int(rows)
        }

        var atEnd: Bool { buffer.readableBytes == 0 }

        mutating func next() throws -> String? {
            guard let length = buffer.readInteger(as: Int32.self), length >= -1 else {
                throw PostgresDecodingError.Code.failure
            }
            if length == -1 { return nil }
            guard let text = buffer.readString(length: Int(length)) else { throw PostgresDecodingError.Code.failure }
            return text
        }

        mutating func required() throws -> String {
            guard let text = try next() else { throw PostgresDecodingError.Code.missingData }
            return text
        }

        /// A non-negative decimal (`int8`/`int4` as text), read from its bytes.
        mutating func int64() throws -> Int64 {
            guard let length = buffer.readInteger(as: Int32.self), (1...19).contains(length),
                let digits = buffer.readSlice(length: Int(length))
            else { throw PostgresDecodingError.Code.failure }
            var value: Int64 = 0
            for byte in digits.readableBytesView {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                    throw PostgresDecodingError.Code.failure
                }
                let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow, !overflow2 else { throw PostgresDecodingError.Code.failure }
                value = sum
            }
            return value
        }

        /// `bool` as text: `true` or `false`.
        mutating func bool() throws -> Bool {
            switch try next() {
            case "true": return true
            case "false": return false
            default: throw PostgresDecodingError.Code.failure
            }
        }
    }

    /// Walks the cells once, each decoded as its concrete type: the random-access row and
    /// the tuple (parameter pack) decoders were 16 % of the worker's CPU, mostly generic
    /// metadata lookups, at 1000 rows per claim.
    package static func decodeLead(_ row: PostgresRow) throws -> Lead {
        var cells = row.makeIterator()
        return try decodeLead(&cells)
    }

    /// Reads the lead from the next cells (`columns`), leaving `cells` at the first cell after them.
    static func decodeLead(_ cells: inout PostgresRow.Iterator) throws -> Lead {
        func next() throws -> PostgresCell {
            guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
            return cell
        }
        return Lead(
            id: try int64(next()), projectId: try text(next()),
            processId: try optionalText(next()), groupId: try optionalText(next()),
            phone: try optionalText(next()), email: try optionalText(next()),
            name: try optionalText(next()), firstName: try optionalText(next()),
            lastName: try optionalText(next()), referenceId: try optionalText(next()),
            metadata: try text(next()), initialize: try bool(next()),
            remoteLeadId: try optionalText(next()), attemptCount: try int(next()),
            ambiguous: try bool(next()))
    }

    // The columns' own types read straight from their bytes; anything else (or NULL where
    // none may be) goes through PostgresNIO's decoder, which also makes its errors. Its
    // generic path per cell was about a fifth of reading a claim (docs/performance.md).

    @inline(__always)
    private static func text(_ cell: PostgresCell) throws -> String {
        if let bytes = cell.bytes, cell.dataType == .text || cell.dataType == .varchar {
            return String(buffer: bytes)
        }
        return try cell.decode(String.self)
    }

    @inline(__always)
    private static func optionalText(_ cell: PostgresCell) throws -> String? {
        guard let bytes = cell.bytes else { return nil }
        if cell.dataType == .text || cell.dataType == .varchar { return String(buffer: bytes) }
        return try cell.decode(String?.self)
    }

    @inline(__always)
    private static func int64(_ cell: PostgresCell) throws -> Int64 {
        if let bytes = cell.bytes, cell.dataType == .int8, cell.format == .binary, bytes.readableBytes == 8,
            let value = bytes.getInteger(at: bytes.readerIndex, as: Int64.self)
        {
            return value
        }
        return try cell.decode(Int64.self)
    }

    @inline(__always)
    private static func int(_ cell: PostgresCell) throws -> Int {
        if let bytes = cell.bytes, cell.dataType == .int4, cell.format == .binary, bytes.readableBytes == 4,
            let value = bytes.getInteger(at: bytes.readerIndex, as: Int32.self)
        {
            return Int(value)
        }
        return try cell.decode(Int.self)
    }

    @inline(__always)
    private static func bool(_ cell: PostgresCell) throws -> Bool {
        if let bytes = cell.bytes, cell.dataType == .bool, cell.format == .binary, bytes.readableBytes == 1,
            let value = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self), value <= 1
        {
            return value == 1
        }
        return try cell.decode(Bool.self)
    }

    /// LeadsClaimArrived: never-tried leads inside id ranges (`lows[i]...highs[i]`, disjoint,
    /// lowest first), in id order, at most `limit`: the lane's claim of new work and
    /// `check`'s pages (`leadsync.arrivals`, migration 0011, says where such leads may be).
    /// One range scan of `leads_project_id` per range, each stopping at `limit`, joined in
    /// the ranges' order, so the rows come out in id order and the scan stops at `limit`
    /// (an outer ORDER BY would make PostgreSQL read every range first). The bounds are row
    /// comparisons so that only `leads_project_id` can serve them: with `id >= lo` the
    /// generic plan walked the primary key and filtered out every other project's leads (19
    /// of 20 rows with 20 projects). Prepared: it runs once per batch.
    package struct ClaimArrived: PostgresPreparedStatement {
        package static let sql = """
            SELECT array_agg(c.texts) FROM (
                SELECT l.texts FROM unnest($2::int8[], $3::int8[]) AS r(lo, hi)
                CROSS JOIN LATERAL (
                    SELECT \(claimTexts) AS texts FROM leadsync.leads
                    WHERE project_id = $1 AND (project_id, id) >= ($1, r.lo) AND (project_id, id) <= ($1, r.hi)
                      AND \(ReadyLeads.new())
                    ORDER BY project_id, id LIMIT $4) AS l
                LIMIT $4) AS c
            """
        /// Every lead claimed, in one row (`claimTexts`), in the order the scan found them:
        /// id order (callers check it, as the aggregate does not promise it).
        package typealias Row = [Lead]
        package var project: String
        package var lows: [Int64]
        package var highs: [Int64]
        package var limit: Int

        package init(project: String, lows: [Int64], highs: [Int64], limit: Int) {
            self.project = project
            self.lows = lows
            self.highs = highs
            self.limit = limit
        }

        package func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(project)
            bindings.append(lows)
            bindings.append(highs)
            bindings.append(Int64(limit))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> [Lead] {
            try decodeClaimedLeads(row, project: project)
        }
    }

    /// LeadsClaimArrivedRows: `ClaimArrived` a row per lead, every column: for a claim whose
    /// one row cannot be built (an array over PostgreSQL's 1 GB limit: leads of huge
    /// metadata, which the pre-check then refuses), as the worker claimed before.
    package struct ClaimArrivedRows: PostgresPreparedStatement {
        package static let sql = """
            SELECT l.* FROM unnest($2::int8[], $3::int8[]) AS r(lo, hi)
            CROSS JOIN LATERAL (
                SELECT \(columns) FROM leadsync.leads
                WHERE project_id = $1 AND (project_id, id) >= ($1, r.lo) AND (project_id, id) <= ($1, r.hi)
                  AND \(ReadyLeads.new())
                ORDER BY project_id, id LIMIT $4) AS l
            LIMIT $4
            """
        package typealias Row = Lead
        package var claim: ClaimArrived

        package init(_ claim: ClaimArrived) { self.claim = claim }

        package func makeBindings() -> PostgresBindings { claim.makeBindings() }

        package func decodeRow(_ row: PostgresRow) throws -> Lead { try decodeLead(row) }
    }

    /// ArrivalsReadAndDelete: a project's arrival rows (id, first id, last id), lowest range
    /// first, at most `limit`, after deleting `done` (rows whose every lead is recorded in an
    /// attempt or finished: docs/contract.md §1.7), and whether a retry of the project is due
    /// (one probe of `leads_retry`): a look that reads the rows then asks for retries only
    /// when one is (docs/operating.md §21). Every row says it; with no arrival row left, one
    /// row of NULLs says it alone. Prepared: a lane that has caught up runs it with every
    /// claim.
    package struct ReadArrivals: PostgresPreparedStatement {
        package static let sql = """
            WITH gone AS (DELETE FROM leadsync.arrivals WHERE project_id = $1 AND id = ANY($2::int8[]))
            SELECT a.id, a.first_id, a.last_id, r.due
            FROM (SELECT EXISTS (SELECT FROM leadsync.leads l WHERE l.project_id = $1 AND \(ReadyLeads.due("l."))) AS due) r
            LEFT JOIN LATERAL (
                SELECT id, first_id, last_id FROM leadsync.arrivals
                WHERE project_id = $1 AND id <> ALL($2::int8[])
                ORDER BY project_id, first_id LIMIT $3) a ON true
            """
        package typealias Row = (arrival: Arrival?, retryDue: Bool)
        package var project: String
        package var done: [Int64]
        package var limit: Int

        package init(project: String, done: [Int64], limit: Int) {
            self.project = project
            self.done = done
            self.limit = limit
        }

        package func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(project)
            bindings.append(done)
            bindings.append(Int64(limit))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> Row {
            let (id, first, last, due) = try row.decode((Int64?, Int64?, Int64?, Bool).self)
            guard let id, let first, let last else { return (nil, due) }
            return (Arrival(id: id, firstId: first, lastId: last), due)
        }
    }

    /// ArrivalsList: a project's arrival rows, read only (`check`).
    package static func listArrivals(project: String) -> RowQuery<Arrival> {
        RowQuery(
            """
            SELECT id, first_id, last_id FROM leadsync.arrivals WHERE project_id = \(project) ORDER BY project_id, first_id
            """
        ) { row in
            let (id, first, last) = try row.decode((Int64, Int64, Int64).self)
            return Arrival(id: id, firstId: first, lastId: last)
        }
    }

    /// LeadsClaimDueRetries: leads put back for a retry whose time has come, most overdue first,
    /// except those this worker already holds (in flight or buffered: `except`).
    package static func claimDueRetries(project: String, except: [Int64], limit: Int) -> PostgresQuery {
        """
        SELECT \(unescaped: columns) FROM leadsync.leads
        WHERE project_id = \(project) AND \(unescaped: ReadyLeads.due())
          AND id <> ALL(\(except)::int8[])
        ORDER BY project_id, next_attempt_at, id LIMIT \(limit)
        """
    }

    /// PhoneClaimsInsertFree: the common case of `claimPhones` without its cost. Phones no
    /// lead holds yet are inserted plainly; the others come back as (key, lead, holder) for
    /// `claimPhones` to judge. `INSERT … ON CONFLICT` pays a speculative insertion per row:
    /// 10.6 µs of database CPU per lead for a batch's claims and write-back with it, 9.7 µs
    /// this way (docs/performance.md's method). The held phones are found by one index scan
    /// with the whole array as its key (`phone_key = ANY`), and the free ones are those a
    /// hash of them does not know: a LATERAL probe per phone (an executor rescan each) cost
    /// 3.25 µs per lead for the probe and insert, this 2.9 (docs/performance.md §10). A
    /// phone claimed concurrently (another worker taking the project over) fails the insert
    /// with a unique violation; the caller then uses `claimPhones`. Never-tried leads'
    /// phones usually go with their attempt instead, without the probe
    /// (`AttemptQueries.InsertFenced`).
    package struct ClaimFreePhones: PostgresPreparedStatement {
        package static let sql = """
            WITH held AS MATERIALIZED (
                SELECT c.phone_key AS key, c.lead_id AS holder FROM leadsync.phone_claims c
                WHERE c.project_id = $1 AND c.phone_key = ANY($2::text[])
            ), inserted AS (
                INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id)
                SELECT $1, k.key, k.lead_id FROM unnest($2::text[], $3::int8[]) AS k(key, lead_id)
                WHERE NOT EXISTS (SELECT FROM held h WHERE h.key = k.key)
            )
            SELECT k.key, k.lead_id, h.holder
            FROM held h JOIN unnest($2::text[], $3::int8[]) AS k(key, lead_id) ON k.key = h.key
            """
        package typealias Row = (key: String, leadId: Int64, holder: Int64)
        package var project: String
        package var keys: [String]
        package var leadIds: [Int64]

        package init(project: String, keys: [String], leadIds: [Int64]) {
            self.project = project
            self.keys = keys
            self.leadIds = leadIds
        }

        package func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(project)
            bindings.append(TextArrayBind(keys))
            bindings.append(Int8ArrayBind(leadIds))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> Row {
            let (key, leadId, holder) = try row.decode((String, Int64, Int64).self)
            return (key, leadId, holder)
        }
    }

    /// PhoneClaimsTakeMany: each lead claims its normalized phone in the project. A phone held
    /// by another lead that is still live (`leadsync.phone_holder_is_live`, migration 0006) is not taken: the newcomer is a
    /// local duplicate (docs/contract.md §3, the earliest lead wins). Returns the leads that hold their
    /// phone. Only for the phones `ClaimFreePhones` found held, so not worth preparing.
    package static func claimPhones(project: String, keys: [String], leadIds: [Int64]) -> PostgresQuery {
        """
        INSERT INTO leadsync.phone_claims AS c (project_id, phone_key, lead_id)
        SELECT \(project), k.key, k.lead_id FROM unnest(\(keys)::text[], \(leadIds)::int8[]) AS k(key, lead_id)
        ON CONFLICT (project_id, phone_key) DO UPDATE SET lead_id = EXCLUDED.lead_id
        WHERE c.lead_id = EXCLUDED.lead_id
           OR NOT EXISTS (SELECT 1 FROM leadsync.leads o
                          WHERE o.id = c.lead_id AND leadsync.phone_holder_is_live(o.status))
        RETURNING lead_id
        """
    }

    /// LeadsSetOutcomeMany: every lead of one request to its new state in one statement.
    /// `delaysMs` applies to leads going back to `pending`; a lead leaving `pending` loses its
    /// `next_attempt_at` (migration 0011: `leads_retry` holds retries only). Only rows still
    /// `pending` change.
    package static func setOutcomes(_ rows: OutcomeRows, countsAttempt: Bool) -> PostgresQuery {
        """
        UPDATE leadsync.leads AS l SET
            status = c.status,
            remote_id = coalesce(nullif(c.remote_id, ''), l.remote_id),
            held_reason = nullif(c.held_reason, ''),
            next_attempt_at = CASE WHEN c.status = 'pending'
                                   THEN now() + c.delay_ms * interval '1 millisecond' END,
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
    package static func insertInvalid(
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

    /// LeadsHoldPending: every pending lead of a project waits (e.g. `token_missing`): those
    /// in its arrival ranges and those waiting for a retry (a lead out in a request is
    /// written back before its lane holds the rest). Its
    /// arrival rows go in the same statement: nothing in their ranges is pending now, and
    /// a row left behind would make the project look ready again. (A lead committed after
    /// this statement's snapshot comes with its own row.)
    package static func holdPending(project: String, reason: HeldReason, message: String) -> PostgresQuery {
        """
        WITH pending AS (
            SELECT l.id FROM leadsync.arrivals a
            CROSS JOIN LATERAL (
                SELECT id FROM leadsync.leads
                WHERE project_id = \(project) AND (project_id, id) >= (\(project), a.first_id)
                  AND (project_id, id) <= (\(project), a.last_id) AND \(unescaped: ReadyLeads.new())
            ) AS l
            WHERE a.project_id = \(project)
            UNION
            SELECT id FROM leadsync.leads WHERE project_id = \(project) AND \(unescaped: ReadyLeads.retrying())
        ), held AS (
            UPDATE leadsync.leads SET status = 'held', held_reason = \(reason.rawValue), last_error = \(message),
                                      next_attempt_at = NULL, updated_at = now()
            WHERE id IN (SELECT id FROM pending) AND status = 'pending'
            RETURNING 1
        ), gone AS (
            DELETE FROM leadsync.arrivals WHERE project_id = \(project)
        )
        SELECT count(*) FROM held
        """
    }

    /// LeadsRelease: held leads of the projects with one reason go back to pending (one
    /// statement for all of them: a worker with a token for each of 10,000 projects starts
    /// with one round trip, not 10,000: docs/operating.md §21).
    package static func release(projects: [String], reason: HeldReason) -> PostgresQuery {
        """
        UPDATE leadsync.leads SET status = 'pending', held_reason = NULL, next_attempt_at = NULL, updated_at = now()
        WHERE project_id = ANY(\(projects)::text[]) AND status = 'held' AND held_reason = \(reason.rawValue)
        """
    }

    /// LeadsMarkAmbiguous: leads of a request whose answer could not be stored may have
    /// reached Uservox; they are tried again after `delay`, and a duplicate answer then
    /// confirms them (docs/contract.md §3).
    package static func markAmbiguous(leadIds: [Int64], delay: Duration, message: String) -> PostgresQuery {
        """
        UPDATE leadsync.leads SET ambiguous = true,
            next_attempt_at = now() + \(delay.millisecondsValue) * interval '1 millisecond',
            last_error = \(StorableText.clean(message, maxBytes: StorableText.messageBytes)), updated_at = now()
        WHERE id = ANY(\(leadIds)) AND status = 'pending'
        """
    }

    // MARK: operators' writes

    /// Held leads released, per project and former held reason.
    package struct ReleasedRow: Sendable {
        package let projectId: String
        package let heldReason: String
        package let count: Int

        init(_ row: PostgresRow) throws {
            var cells = RowCells(row)
            projectId = try cells.next()
            heldReason = try cells.next()
            count = try cells.next()
        }
    }

    /// LeadsReleaseHeld: held leads back to `pending`, ready at once (docs/contract.md §2,
    /// `leadsync release` and `project resume`). Leads held for `retries_exhausted` get a
    /// fresh round of attempts; `ambiguous` is kept.
    package static func releaseHeld(only project: String?, reasons: [String]) -> RowQuery<ReleasedRow> {
        RowQuery(
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
        ) { try ReleasedRow($0) }
    }

    /// LeadsInsertResubmit: the corrected copy of a lead, a new `pending` lead pointing back
    /// at the original through `resubmit_of`. Returns the new id.
    package static func insertResubmit(_ lead: Lead, resubmitOf original: Int64) -> RowQuery<Int64> {
        RowQuery(
            """
            INSERT INTO leadsync.leads (project_id, process_id, group_id, phone, email, name, first_name, last_name,
                                        reference_id, metadata, init, remote_lead_id, resubmit_of)
            VALUES (\(lead.projectId), \(lead.processId), \(lead.groupId), \(lead.phone), \(lead.email), \(lead.name),
                    \(lead.firstName), \(lead.lastName), \(lead.referenceId), \(lead.metadata)::jsonb, \(lead.initialize),
                    \(lead.remoteLeadId), \(original))
            RETURNING id
            """
        ) { try $0.decode(Int64.self) }
    }

    /// LeadsCancelReplaced: a held lead replaced by its corrected copy is withdrawn, so the
    /// two can never both be sent.
    package static func cancelReplaced(_ id: Int64, by newId: Int64) -> PostgresQuery {
        """
        UPDATE leadsync.leads SET status = 'cancelled', held_reason = NULL,
            last_error = 'replaced by lead ' || \(newId)::int8 || ' (leadsync lead resubmit)', updated_at = now()
        WHERE id = \(id) AND status = 'held'
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

/// A row of `leadsync.arrivals` (migration 0011): pending never-tried leads of its project
/// may be in `firstId...lastId`.
public struct Arrival: Sendable, Equatable {
    public let id: Int64
    public let firstId: Int64
    public let lastId: Int64

    public init(id: Int64, firstId: Int64, lastId: Int64) {
        self.id = id
        self.firstId = firstId
        self.lastId = lastId
    }
}
