import Foundation
import LeadSyncStore
import Logging
import PostgresNIO

/// `leadsync prune --older-than 30d`: trims the per-lead request history (`attempt_leads`)
/// of finished requests started before the cutoff. Leads, invalid markers and the request
/// rows themselves (what `attempts` and `report` read) are never touched.
public struct Prune: Sendable {
    public struct Result: Sendable, Equatable {
        public var cutoff: Date
        public var rows: Int
        public var attempts: Int
        public var dryRun: Bool

        public var summary: String {
            let what =
                "\(rows) attempt_leads row\(rows == 1 ? "" : "s") of \(attempts) request\(attempts == 1 ? "" : "s") started before \(Timestamp.format(cutoff))"
            return dryRun
                ? "would delete \(what) (dry run: nothing deleted)"
                : "deleted \(what); leads, invalid markers and the requests themselves are kept"
        }
    }

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run(olderThan age: Duration, dryRun: Bool, now: Date? = nil, on connection: PostgresConnection)
        async throws -> Result
    {
        let now = try await resolveNow(now, on: connection)
        let cutoff = now.addingTimeInterval(-age.secondsValue)
        let query = dryRun ? AttemptQueries.prunable(before: cutoff) : AttemptQueries.pruneLeadResults(before: cutoff)
        let pruned = try await connection.firstRow(query, logger: logger)
        return Result(cutoff: cutoff, rows: pruned?.rows ?? 0, attempts: pruned?.attempts ?? 0, dryRun: dryRun)
    }
}
