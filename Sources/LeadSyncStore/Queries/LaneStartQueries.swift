import LeadSyncCore
import PostgresNIO

/// What a lane reads before its first claim (docs/operating.md §21): the project's row,
/// whether requests of another worker are still open, and the starts of its current rate
/// window. One round trip instead of three: with many small projects the lane's start-up
/// was most of its work.
public struct LaneStart: Sendable {
    public var settings: ProjectSettings
    public var openAttempts: Int
    /// How long ago (seconds) each request of the last window started, oldest first.
    public var recentStarts: [Double]
    /// Whether a lead put back for a retry is due: if not, the first claim needs no look
    /// for retries (one round trip of a small project's few).
    public var retriesDue: Bool
    /// How many leads are ready (`ReadyLeads.readySize`: of the newest `countUpTo`, those
    /// never tried, and retries come due): whether the lane starts for a few fresh leads or
    /// for a backlog (docs/operating.md §22).
    public var ready: Int
    /// The project's arrival rows, lowest range first, at most the limit asked for: the
    /// first claim reads no others (one round trip fewer).
    public var arrivals: [Arrival] = []
    /// Every never-tried lead inside `arrivals`, in id order, when a few are ready and the
    /// start read every arrival row, within the ranges a first claim takes: that claim's
    /// answer, read already (one round trip fewer per small project, docs/operating.md
    /// §21); nil when not read, or when there were as many as the limit asked for.
    public var firstClaim: [Lead]?
}

package enum LaneStartQueries {
    /// LaneStart: for each of `projects`, ProjectsGet and AttemptsOpenCount, how long ago each
    /// of its requests of the last `rate_limit_window` plus a second started (to seed the
    /// rate limiter of a worker taking the project over), whether a retry is due (one
    /// probe of `leads_retry`), how many leads are ready (`ReadyLeads.readySize`, as far as
    /// `countUpTo`), and its first `arrivals` arrival rows, lowest range first
    /// (`LeadQueries.ReadArrivals` without deleting: a new lane is done with none); with
    /// fewer than `firstClaim` ready and at most `ranges` arrival rows, the never-tried
    /// leads inside those rows, at most `firstClaim` from each (`LeadQueries.ClaimArrived`
    /// over the rows: overlapping rows repeat a lead); a row each, none for a project gone.
    /// The dispatcher reads the starts of the lanes it is about to run together, one round
    /// trip instead of one per lane. Prepared: planning it took the server several times as
    /// long as running it (docs/operating.md §21).
    package struct Read: PostgresPreparedStatement {
        package typealias Row = LaneStart
        package var projects: [String]
        package var arrivals: Int
        package var countUpTo: Int
        package var firstClaim: Int
        package var ranges: Int

        package init(projects: [String], arrivals: Int, countUpTo: Int, firstClaim: Int = 0, ranges: Int = 0) {
            self.projects = projects
            self.arrivals = arrivals
            self.countUpTo = countUpTo
            self.firstClaim = firstClaim
            self.ranges = ranges
        }

        package func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 5)
            bindings.append(projects)
            bindings.append(Int64(arrivals))
            bindings.append(Int64(max(0, countUpTo)))
            bindings.append(Int64(max(0, firstClaim)))
            bindings.append(Int64(max(0, ranges)))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> LaneStart {
            try LaneStartQueries.decode(row, firstClaim: firstClaim)
        }

        package static let sql = """
            SELECT project_id, rate_limit_requests, (extract(epoch FROM rate_limit_window) * 1000)::int8,
                   max_batch_size, max_in_flight, max_attempts,
                   leadsync.project_is_paused(projects), pause_reason, max_request_bytes,
                   (SELECT count(*) FROM leadsync.submission_attempts a
                    WHERE a.project_id = projects.project_id AND a.finished_at IS NULL),
                   ARRAY(SELECT extract(epoch FROM now() - a.started_at)::float8 FROM leadsync.submission_attempts a
                         WHERE a.project_id = projects.project_id
                           AND a.started_at > now() - projects.rate_limit_window - interval '1 second'
                         ORDER BY a.started_at),
                   EXISTS (SELECT FROM leadsync.leads l
                           WHERE l.project_id = projects.project_id AND \(ReadyLeads.due("l."))),
                   s.ready, r.ids, r.firsts, r.lasts, c.texts
            FROM leadsync.projects
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(a.id ORDER BY a.first_id), '{}') AS ids,
                       coalesce(array_agg(a.first_id ORDER BY a.first_id), '{}') AS firsts,
                       coalesce(array_agg(a.last_id ORDER BY a.first_id), '{}') AS lasts
                FROM (SELECT id, first_id, last_id FROM leadsync.arrivals
                      WHERE project_id = projects.project_id ORDER BY project_id, first_id LIMIT $2) a) r
            CROSS JOIN LATERAL (SELECT \(ReadyLeads.readySize(project: "projects.project_id", limit: "$3")) AS ready) s
            LEFT JOIN LATERAL (
                SELECT array_agg(l.texts) AS texts FROM unnest(r.firsts, r.lasts) AS g(lo, hi)
                CROSS JOIN LATERAL (
                    SELECT \(LeadQueries.claimTexts) AS texts FROM leadsync.leads
                    WHERE project_id = projects.project_id
                      AND (project_id, id) >= (projects.project_id, g.lo) AND (project_id, id) <= (projects.project_id, g.hi)
                      AND \(ReadyLeads.new())
                    ORDER BY project_id, id LIMIT $4) AS l
                WHERE s.ready < $4 AND cardinality(r.ids) <= $5) c ON true
            WHERE project_id = ANY($1::text[])
            """
    }

    /// A row of `sql`; `firstClaim` as asked (the limit of each arrival row's scan).
    static func decode(_ row: PostgresRow, firstClaim: Int) throws -> LaneStart {
        var start = try decode(row)
        // The last cell: the leads, a row each, NULL when not read.
        let cells = Array(row)
        guard let cell = cells.last, cells.count == 17 else { throw PostgresDecodingError.Code.missingData }
        if cell.bytes != nil {
            let read = try LeadQueries.decodeClaimedLeads(cell, project: start.settings.projectId)
            // Complete only below the limit of each row's scan; rows may overlap.
            if read.count < firstClaim {
                var seen = Set<Int64>()
                start.firstClaim = read.filter { seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
            }
        }
        return start
    }

    package static func decode(_ row: PostgresRow) throws -> LaneStart {
        let (
            id, requests, windowMs, batch, inFlight, attempts, paused, reason, maxBytes, open, recent, due, ready, ids,
            firsts, lasts
        ) =
            try row.decode(
                (
                    String, Int, Int64, Int, Int, Int, Bool, String?, Int, Int64, [Double], Bool, Int64, [Int64],
                    [Int64], [Int64]
                )
                .self)
        return LaneStart(
            settings: ProjectSettings(
                projectId: id, rateLimitRequests: requests, rateLimitWindow: .milliseconds(windowMs),
                maxBatchSize: batch, maxInFlight: inFlight, maxAttempts: attempts, paused: paused,
                pauseReason: reason, maxRequestBytes: maxBytes),
            openAttempts: Int(open), recentStarts: recent, retriesDue: due, ready: Int(ready),
            arrivals: zip(ids, zip(firsts, lasts)).map { Arrival(id: $0, firstId: $1.0, lastId: $1.1) })
    }
}

extension LeadStore {
    /// What lanes read before their first claim, in one round trip, by project (none for a
    /// project gone): each one's ready leads sized as far as `countUpTo`, up to `arrivals`
    /// arrival rows and, with `firstClaim` > 0, the first claim's leads
    /// (`LaneStart.firstClaim`).
    public func laneStarts(
        projects: [String], countUpTo: Int, arrivals: Int = 0, firstClaim: Int = 0, ranges: Int = 0
    ) async throws -> [String: LaneStart] {
        let read = LaneStartQueries.Read(
            projects: projects, arrivals: arrivals, countUpTo: countUpTo, firstClaim: firstClaim, ranges: ranges)
        let rows: [LaneStart]
        do {
            rows = try await prepared(read)
        } catch let error where firstClaim > 0 && Self.isOversizedArray(error) {
            // The leads' one cell would pass PostgreSQL's limits (huge metadata): the starts
            // without them; first claims read them (`arrivedLeads`). It changed nothing.
            return try await laneStarts(projects: projects, countUpTo: countUpTo, arrivals: arrivals)
        }
        return Dictionary(rows.map { ($0.settings.projectId, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// `laneStarts` for one project; nil when its row is gone.
    public func laneStart(
        project: String, countUpTo: Int, arrivals: Int = 0, firstClaim: Int = 0, ranges: Int = 0
    ) async throws -> LaneStart? {
        try await laneStarts(
            projects: [project], countUpTo: countUpTo, arrivals: arrivals, firstClaim: firstClaim, ranges: ranges)[
                project]
    }
}
