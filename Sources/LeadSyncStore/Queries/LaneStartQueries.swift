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
}

package enum LaneStartQueries {
    /// LaneStart: ProjectsGet and AttemptsOpenCount for one project, and how long ago each
    /// of its requests of the last `rate_limit_window` plus a second started (to seed the
    /// rate limiter of a worker taking the project over), whether a retry is due (one
    /// probe of `leads_retry`), how many leads are ready (`ReadyLeads.readySize`, as far as
    /// `countUpTo`), and its first `arrivals` arrival rows, lowest range first
    /// (`LeadQueries.ReadArrivals` without deleting: a new lane is done with none); no row
    /// when it is gone. Prepared: it runs once per lane, and planning it took the server
    /// several times as long as running it (docs/operating.md §21).
    package struct Read: PostgresPreparedStatement {
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
                   \(ReadyLeads.readySize(project: "projects.project_id", limit: "$3")),
                   r.ids, r.firsts, r.lasts
            FROM leadsync.projects
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(a.id ORDER BY a.first_id), '{}') AS ids,
                       coalesce(array_agg(a.first_id ORDER BY a.first_id), '{}') AS firsts,
                       coalesce(array_agg(a.last_id ORDER BY a.first_id), '{}') AS lasts
                FROM (SELECT id, first_id, last_id FROM leadsync.arrivals
                      WHERE project_id = projects.project_id ORDER BY project_id, first_id LIMIT $2) a) r
            WHERE project_id = $1
            """
        package typealias Row = LaneStart
        package var project: String
        package var arrivals: Int
        package var countUpTo: Int

        package init(project: String, arrivals: Int, countUpTo: Int) {
            self.project = project
            self.arrivals = arrivals
            self.countUpTo = countUpTo
        }

        package func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(project)
            bindings.append(Int64(arrivals))
            bindings.append(Int64(max(0, countUpTo)))
            return bindings
        }

        package func decodeRow(_ row: PostgresRow) throws -> LaneStart { try LaneStartQueries.decode(row) }
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
    /// What a lane reads before its first claim, in one round trip: its ready leads sized
    /// as far as `countUpTo`, and up to `arrivals` arrival rows; nil when the project's row
    /// is gone.
    public func laneStart(project: String, countUpTo: Int, arrivals: Int = 0) async throws -> LaneStart? {
        try await prepared(LaneStartQueries.Read(project: project, arrivals: arrivals, countUpTo: countUpTo)).first
    }
}
