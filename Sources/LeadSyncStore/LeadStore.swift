import LeadSyncCore
import Logging
import PostgresNIO

/// The worker's database operations, each a named query or one transaction of them.
public struct LeadStore: Sendable {
    public let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func project(_ id: String) async throws -> ProjectSettings? {
        try await client.query(ProjectQueries.get(id), logger: logger).collect().first.map(ProjectQueries.decode)
    }

    public func readyProjects(only: [String]?, except served: [String] = []) async throws -> [String] {
        var result: [String] = []
        for try await id in try await client.query(
            ProjectQueries.listReady(only: only, except: served), logger: logger
        ).decode(
            String.self)
        {
            result.append(id)
        }
        return result
    }

    /// Never-tried leads of a project after `afterId`, oldest first.
    public func newLeads(project: String, afterId: Int64, limit: Int) async throws -> [Lead] {
        var result: [Lead] = []
        result.reserveCapacity(limit)
        for try await lead in try await client.execute(
            LeadQueries.ClaimNew(project: project, afterId: afterId, limit: limit), logger: logger)
        {
            result.append(lead)
        }
        return result
    }

    public func leads(_ query: PostgresQuery) async throws -> [Lead] {
        var result: [Lead] = []
        for try await row in try await client.query(query, logger: logger) {
            result.append(try LeadQueries.decodeLead(row))
        }
        return result
    }

    /// Claims phones for `leads` (unique keys); returns the ids that now hold their phone.
    /// Free phones are taken in one plain insert; only phones some lead already holds go
    /// through the statement that judges a takeover.
    public func claimPhones(project: String, keys: [String], leadIds: [Int64]) async throws -> Set<Int64> {
        guard !keys.isEmpty else { return [] }
        var holders = Set(leadIds)
        var contested: [(key: String, leadId: Int64)] = []
        do {
            for try await (key, leadId, holder) in try await client.execute(
                LeadQueries.ClaimFreePhones(project: project, keys: keys, leadIds: leadIds), logger: logger)
            where holder != leadId {
                holders.remove(leadId)
                contested.append((key, leadId))
            }
        } catch let error as PSQLError where error.sqlState == "23505" {
            // A phone was claimed between the probe and the insert (another worker took the
            // project over); nothing was inserted, so judge every phone the careful way.
            holders = []
            contested = Array(zip(keys, leadIds))
        }
        guard !contested.isEmpty else { return holders }
        for try await id in try await client.query(
            LeadQueries.claimPhones(project: project, keys: contested.map(\.key), leadIds: contested.map(\.leadId)),
            logger: logger
        ).decode(Int64.self) {
            holders.insert(id)
        }
        return holders
    }

    /// Marks leads invalid by the local pre-check: state and marker in one transaction.
    public func markLocalInvalid(project: String, verdicts: [(leadId: Int64, verdict: LeadValidator.Verdict)])
        async throws
    {
        guard !verdicts.isEmpty else { return }
        var rows = OutcomeRows()
        for (id, verdict) in verdicts {
            rows.append(id: id, status: .invalid, lastError: verdict.message)
        }
        try await client.withTransaction(logger: logger) { tx in
            try await tx.query(LeadQueries.setOutcomes(rows, countsAttempt: false), logger: logger)
            try await tx.query(
                LeadQueries.insertInvalid(
                    project: project, leadIds: verdicts.map(\.leadId), reasons: verdicts.map(\.verdict.reason.rawValue),
                    messages: verdicts.map(\.verdict.message),
                    sources: verdicts.map { _ in InvalidSource.local.rawValue },
                    attemptId: nil),
                logger: logger)
        }
    }

    /// Records an attempt before sending, fenced by the project lock; nil when the lock is gone.
    public func startAttempt(
        project: String, workerId: String, leadIds: [Int64], lease: Duration, lock: ProjectLock
    ) async throws -> Int64? {
        for try await id in try await client.execute(
            AttemptQueries.InsertFenced(
                project: project, workerId: workerId, leadIds: leadIds, lease: lease, lock: lock),
            logger: logger)
        {
            return id
        }
        return nil
    }

    /// Writes one request's result back: every lead's state, the invalid markers, the
    /// history rows, the attempt and the project's reaction, in one transaction (docs/contract.md §2).
    /// False when the attempt row is gone (pruned): nothing is written then. Text from the
    /// answer is made storable here (`StorableText`), once.
    @discardableResult
    public func writeBack(
        project: String, attemptId: Int64, httpStatus: Int?, plan: OutcomePlanner.Plan
    ) async throws -> Bool {
        // The common case, every lead accepted: one prepared statement does it all.
        if plan.project == .none, plan.outcome == .ok, plan.countsAttempt, plan.error == nil,
            plan.errorCount == 0, plan.unconfirmedCount == 0, plan.successCount == plan.changes.count
        {
            var ids: [Int64] = []
            var remoteIds: [String] = []
            ids.reserveCapacity(plan.changes.count)
            remoteIds.reserveCapacity(plan.changes.count)
            for (id, change, result, message) in plan.changes {
                guard case .submitted(let remoteId, _) = change, result == .accepted, message == nil else { break }
                ids.append(id)
                remoteIds.append(remoteId ?? "")
            }
            if ids.count == plan.changes.count {
                var finished = false
                for try await _ in try await client.execute(
                    AttemptQueries.FinishAllAccepted(
                        attemptId: attemptId, httpStatus: httpStatus, leadIds: ids,
                        remoteIds: remoteIds.map { StorableText.clean($0, maxBytes: StorableText.messageBytes) }),
                    logger: logger)
                {
                    finished = true
                }
                return finished
            }
        }

        var rows = OutcomeRows()
        var invalidIds: [Int64] = []
        var invalidReasons: [String] = []
        var invalidMessages: [String] = []
        var resultIds: [Int64] = []
        var results: [String] = []
        var messages: [String] = []
        resultIds.reserveCapacity(plan.changes.count)
        for (id, change, result, message) in plan.changes {
            resultIds.append(id)
            results.append(result.rawValue)
            messages.append(StorableText.clean(message ?? "", maxBytes: StorableText.messageBytes))
            switch change {
            case .submitted(let remoteId, _):
                rows.append(id: id, status: .submitted, remoteId: remoteId)
            case .invalid(let reason, let text):
                rows.append(id: id, status: .invalid, lastError: text)
                invalidIds.append(id)
                invalidReasons.append(reason.rawValue)
                invalidMessages.append(StorableText.clean(text, maxBytes: StorableText.messageBytes))
            case .requeue(let delay, let ambiguous):
                rows.append(id: id, status: .pending, delay: delay, ambiguous: ambiguous, lastError: plan.error)
            case .held(let reason, let text):
                rows.append(id: id, status: .held, heldReason: reason, lastError: text)
            }
        }
        return try await client.withTransaction(logger: logger) { tx in
            guard try await tx.query(AttemptQueries.lock(id: attemptId), logger: logger).collect().count == 1 else {
                return false
            }
            if !rows.isEmpty {
                try await tx.query(LeadQueries.setOutcomes(rows, countsAttempt: plan.countsAttempt), logger: logger)
            }
            if !invalidIds.isEmpty {
                try await tx.query(
                    LeadQueries.insertInvalid(
                        project: project, leadIds: invalidIds, reasons: invalidReasons, messages: invalidMessages,
                        sources: invalidIds.map { _ in InvalidSource.api.rawValue }, attemptId: attemptId),
                    logger: logger)
            }
            if !resultIds.isEmpty {
                try await tx.query(
                    AttemptQueries.insertLeadResults(
                        attemptId: attemptId, leadIds: resultIds, results: results, messages: messages),
                    logger: logger)
            }
            try await tx.query(
                AttemptQueries.finish(
                    id: attemptId, httpStatus: httpStatus, outcome: plan.outcome.rawValue,
                    successCount: plan.successCount, errorCount: plan.errorCount,
                    unconfirmedCount: plan.unconfirmedCount, error: plan.error),
                logger: logger)
            switch plan.project {
            case .pause(let reason, let message):
                try await tx.query(
                    ProjectQueries.pause(project, reason: "\(reason.rawValue): \(message)"), logger: logger)
            case .shrinkBatch(let size):
                try await tx.query(ProjectQueries.setBatchSize(project, to: size), logger: logger)
            case .none, .rateLimited, .shrinkRequestBytes:
                break
            }
            return true
        }
    }

    /// Keeps an attempt whose write-back is waiting on the database from looking abandoned.
    public func renewLease(attemptId: Int64, lease: Duration) async throws {
        try await client.query(AttemptQueries.renewLease(id: attemptId, lease: lease), logger: logger)
    }

    /// The last resort when an answer cannot be written at all (a data error the
    /// sanitising did not foresee): the attempt is closed as `bad_response` with why, and
    /// its leads go back to pending, ambiguous, after `delay`, so a duplicate answer then
    /// confirms what Uservox already had. Nothing is lost, nothing held forever.
    @discardableResult
    public func closeUnstorable(attemptId: Int64, leadIds: [Int64], why: String, delay: Duration) async throws -> Bool {
        try await client.withTransaction(logger: logger) { tx in
            guard try await tx.query(AttemptQueries.lock(id: attemptId), logger: logger).collect().count == 1 else {
                return false
            }
            try await tx.query(LeadQueries.markAmbiguous(leadIds: leadIds, delay: delay, message: why), logger: logger)
            try await tx.query(
                AttemptQueries.finish(
                    id: attemptId, httpStatus: nil, outcome: OutcomePlanner.AttemptOutcome.badResponse.rawValue,
                    successCount: 0, errorCount: 0, unconfirmedCount: 0, error: why),
                logger: logger)
            return true
        }
    }

    public func holdPending(project: String, reason: HeldReason, message: String) async throws -> Int {
        try await client.query(
            LeadQueries.holdPending(project: project, reason: reason, message: message), logger: logger
        ).collect().first?.decode(Int.self) ?? 0
    }

    public func release(project: String, reason: HeldReason) async throws {
        try await client.query(LeadQueries.release(project: project, reason: reason), logger: logger)
    }

    /// Closes attempts of dead workers; their leads go back to pending, ambiguous.
    public func abandonExpiredAttempts() async throws -> [(attemptId: Int64, project: String, leads: Int)] {
        var result: [(Int64, String, Int)] = []
        for try await (id, project, count) in try await client.query(AttemptQueries.abandonExpired(), logger: logger)
            .decode((Int64, String, Int64).self)
        {
            result.append((id, project, Int(count)))
        }
        return result
    }

    public func openAttempts(project: String) async throws -> Int {
        try await client.query(AttemptQueries.openCount(project: project), logger: logger).collect().first?.decode(
            Int.self) ?? 0
    }

    /// How long ago (seconds) each recent request of the project started.
    public func recentStarts(project: String, within window: Duration) async throws -> [Double] {
        var result: [Double] = []
        for try await ago in try await client.query(
            AttemptQueries.recentStarts(project: project, within: window), logger: logger
        ).decode(Double.self) {
            result.append(ago)
        }
        return result
    }

    public func compactLeadCounts() async throws {
        try await client.query(ProjectQueries.compactLeadCounts, logger: logger)
    }

    /// Pending leads per project and the age of each project's oldest, in seconds.
    public func backlog() async throws -> [(project: String, pending: Int, oldestAge: Double)] {
        var result: [(String, Int, Double)] = []
        for try await (project, pending, age) in try await client.query(ProjectQueries.backlog, logger: logger)
            .decode((String, Int64, Double).self)
        {
            result.append((project, Int(pending), age))
        }
        return result
    }
}
