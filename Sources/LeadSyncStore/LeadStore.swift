import LeadSyncCore
import Logging
import PostgresNIO
import Synchronization

/// The worker's database operations, each a named query or one transaction of them.
/// Direct (the default), each call is one statement on a pooled session that carries its
/// settings from startup, hot queries named prepared statements. Through a pooler
/// (`pooled` settings), each call is a transaction that sets them first, and prepared
/// statements are unnamed unless `namedStatements` (README, Behind a connection pooler).
public struct LeadStore: Sendable {
    public let client: PostgresClient
    let logger: Logger
    /// Through a pooler: what each call sets first in its transaction. nil: direct.
    let pooled: PooledSettings?
    private let named: NamedStatements
    /// The store's own warnings (`logger` is PostgresNIO's, usually quieter).
    let notices: Logger
    /// Connections kept for latency-sensitive calls (`reserving`); nil: none.
    private let reserved: ReservedConnections?
    /// Projects whose last phone claims met a held phone (`refusedPhones`), shared by the
    /// store's copies.
    private let phonesHeld: PhonesHeld

    /// - Parameter reserved: a pool of its own for calls of lanes that have caught up
    ///   (`reserving`), so they never queue behind a backlog's big statements on `client`.
    public init(
        client: PostgresClient, logger: Logger, pooled: PooledSettings? = nil, namedStatements: Bool = true,
        notices: Logger? = nil, reserved: (client: PostgresClient, connections: Int)? = nil
    ) {
        self.init(
            client: client, logger: logger, pooled: pooled, named: NamedStatements(namedStatements),
            notices: notices ?? logger,
            reserved: reserved.map { ReservedConnections(client: $0.client, capacity: $0.connections) },
            phonesHeld: PhonesHeld())
    }

    private init(
        client: PostgresClient, logger: Logger, pooled: PooledSettings?, named: NamedStatements, notices: Logger,
        reserved: ReservedConnections?, phonesHeld: PhonesHeld
    ) {
        self.client = client
        self.logger = logger
        self.pooled = pooled
        self.named = named
        self.notices = notices
        self.reserved = reserved
        self.phonesHeld = phonesHeld
    }

    /// Runs `call` with a store on the reserved connections when `latencySensitive` and one
    /// is free or has one call on it (`ReservedConnections`), else with this store (the
    /// shared pool): shortest job first for the
    /// database. A lane that has caught up sends a few fresh leads; on the shared pool its
    /// claim, phone claims and attempt would each wait behind a backlog's 1000-lead claims
    /// and write-backs (README, Performance). When every reserved connection has a call
    /// waiting too, the call queues on the shared pool like any other, so many caught-up
    /// lanes at once are never much worse off than without the reservation.
    public func reserving<T: Sendable>(
        _ latencySensitive: Bool, _ call: @Sendable (LeadStore) async throws -> T
    ) async throws -> T {
        guard latencySensitive, let reserved, reserved.take() else { return try await call(self) }
        defer { reserved.give() }
        return try await call(
            LeadStore(
                client: reserved.client, logger: logger, pooled: pooled, named: named, notices: notices, reserved: nil,
                phonesHeld: phonesHeld))
    }

    /// Direct, with named prepared statements: today's path, untouched.
    var direct: Bool { pooled == nil && named.value }
    /// Whether each call needs a transaction of its own to set the settings first.
    var perCall: Bool { pooled?.needed ?? false }

    public func project(_ id: String) async throws -> ProjectSettings? {
        try await rows(ProjectQueries.get(id)).first.map(ProjectQueries.decode)
    }

    public func readyProjects(only: [String]?) async throws -> [String] {
        try await rows(ProjectQueries.listReady(only: only)).map { try $0.decode(String.self) }
    }

    /// Never-tried leads of a project inside the id ranges `lows[i]...highs[i]` (disjoint,
    /// lowest first), oldest first.
    public func arrivedLeads(project: String, lows: [Int64], highs: [Int64], limit: Int) async throws -> [Lead] {
        let claim = LeadQueries.ClaimArrived(project: project, lows: lows, highs: highs, limit: limit)
        do {
            return try await prepared(claim).flatMap { $0 }
        } catch let error where Self.isOversizedArray(error) {
            // The claim's one row would pass PostgreSQL's limits (leads of huge metadata):
            // the same leads a row each. It failed, so it changed nothing.
            return try await prepared(LeadQueries.ClaimArrivedRows(claim))
        }
    }

    /// A statement that failed building a value past PostgreSQL's limits: `program_limit_exceeded`,
    /// out of memory, or the allocator's "invalid memory alloc request size" (an internal error).
    package static func isOversizedArray(_ error: any Error) -> Bool {
        guard let code = sqlState(of: error) else { return false }
        return code.hasPrefix("54") || code == "53200" || code == "XX000"
    }

    /// The project's arrival rows, lowest range first, at most `limit`, after deleting `done`,
    /// and whether a retry of the project is due.
    public func arrivals(project: String, deleting done: [Int64], limit: Int) async throws -> (
        rows: [Arrival], retryDue: Bool
    ) {
        let read = try await prepared(LeadQueries.ReadArrivals(project: project, done: done, limit: limit))
        return (read.compactMap(\.arrival), read.first?.retryDue ?? true)
    }

    public func leads(_ query: PostgresQuery) async throws -> [Lead] {
        try await rows(query).map(LeadQueries.decodeLead)
    }

    /// Claims phones for `leads` (unique keys); returns the ids that now hold their phone.
    public func claimPhones(project: String, keys: [String], leadIds: [Int64]) async throws -> Set<Int64> {
        guard !keys.isEmpty else { return [] }
        return Set(leadIds).subtracting(try await refusedPhones(project: project, keys: keys, leadIds: leadIds))
    }

    /// Whether never-tried leads of `project` may have their phones claimed with their
    /// attempt (`startAttempt`'s `phones`) instead of by `refusedPhones` first: unless the
    /// project's last claims met a held phone, whose leads would fail that attempt each time.
    public func defersPhoneClaims(project: String) -> Bool { !phonesHeld.contains(project) }

    /// Claims phones for `leads` (unique keys) like `claimPhones`, and returns the ids that
    /// did not get their phone: usually none, so the worker builds no set of the batch.
    /// Free phones are taken in one plain insert; only phones some lead already holds go
    /// through the statement that judges a takeover.
    public func refusedPhones(project: String, keys: [String], leadIds: [Int64]) async throws -> Set<Int64> {
        guard !keys.isEmpty else { return [] }
        var contested: [(key: String, leadId: Int64)] = []
        do {
            let claim = LeadQueries.ClaimFreePhones(project: project, keys: keys, leadIds: leadIds)
            for (key, leadId, holder) in try await prepared(claim) where holder != leadId {
                contested.append((key, leadId))
            }
        } catch let error where Self.isUniqueViolation(error) {
            // A phone claimed between the probe and the insert (another worker took the
            // project over); nothing was inserted, so judge every phone the careful way.
            contested = Array(zip(keys, leadIds))
        }
        // Remembered per project (one lane each): a project whose leads repeat phones
        // probes until a batch finds none held, so it pays no failed attempt per batch.
        phonesHeld.set(project, held: !contested.isEmpty)
        guard !contested.isEmpty else { return [] }
        var refused = Set(contested.map(\.leadId))
        for row in try await rows(
            LeadQueries.claimPhones(project: project, keys: contested.map(\.key), leadIds: contested.map(\.leadId)))
        {
            refused.remove(try row.decode(Int64.self))
        }
        return refused
    }

    private static func isUniqueViolation(_ error: any Error) -> Bool { sqlState(of: error) == "23505" }

    /// Whether `error` is PostgreSQL's answer to a statement (it has an SQLSTATE): the
    /// statement, and its transaction, changed nothing. Not so for a deadline that passed or
    /// a connection lost: the statement may still commit.
    public static func refusedByServer(_ error: any Error) -> Bool { sqlState(of: error) != nil }

    /// The SQLSTATE of a statement's error, alone or inside a transaction's closure.
    private static func sqlState(of error: any Error) -> String? {
        (error as? PSQLError ?? (error as? PostgresTransactionError)?.closureError as? PSQLError)?.sqlState
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
        try await transaction { tx in
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

    /// What recording an attempt came to.
    public enum AttemptRecord: Sendable, Equatable {
        case recorded(Int64)
        /// The project's lock is gone: nothing done, do not send.
        case lockLost
        /// A phone to claim with it is held already: nothing done; judge the phones with
        /// `refusedPhones`, then record without them.
        case phoneHeld
    }

    /// An attempt to record before sending (`startAttempts`): its project's leads, fenced
    /// by the project's lock held through `lock`; with it, the project's arrival rows
    /// `doneArrivals` are deleted and `phones` claimed for never-tried leads.
    public struct NewAttempt: Sendable {
        public let project: String
        public let leadIds: [Int64]
        public let lock: ProjectLock
        public let doneArrivals: [Int64]
        public let phones: (keys: [String], leadIds: [Int64])

        public init(
            project: String, leadIds: [Int64], lock: ProjectLock, doneArrivals: [Int64] = [],
            phones: (keys: [String], leadIds: [Int64]) = ([], [])
        ) {
            self.project = project
            self.leadIds = leadIds
            self.lock = lock
            self.doneArrivals = doneArrivals
            self.phones = phones
        }
    }

    /// Records attempts of distinct projects in one statement (`AttemptQueries.InsertFenced`),
    /// each fenced by its own project's lock: what each came to, in order. Alone, one whose
    /// phones meet a held phone is `phoneHeld`; several, a held phone fails them all (a
    /// unique violation is thrown, nothing recorded), and each is to be recorded alone.
    public func startAttempts(_ attempts: [NewAttempt], workerId: String, lease: Duration) async throws
        -> [AttemptRecord]
    {
        guard !attempts.isEmpty else { return [] }
        let insert = AttemptQueries.InsertFenced(attempts, workerId: workerId, lease: lease)
        let recorded: [String: Int64]
        do {
            recorded = Dictionary(try await prepared(insert), uniquingKeysWith: { first, _ in first })
        } catch let error where attempts.count == 1 && !attempts[0].phones.keys.isEmpty && Self.isUniqueViolation(error)
        {
            phonesHeld.set(attempts[0].project, held: true)
            return [.phoneHeld]
        }
        return attempts.map { recorded[$0.project].map(AttemptRecord.recorded) ?? .lockLost }
    }

    /// `startAttempts` for one attempt.
    public func startAttempt(
        project: String, workerId: String, leadIds: [Int64], lease: Duration, lock: ProjectLock,
        doneArrivals: [Int64] = [], phones: (keys: [String], leadIds: [Int64]) = ([], [])
    ) async throws -> AttemptRecord {
        let attempt = NewAttempt(
            project: project, leadIds: leadIds, lock: lock, doneArrivals: doneArrivals, phones: phones)
        return try await startAttempts([attempt], workerId: workerId, lease: lease)[0]
    }

    /// The write-back of a request whose every lead was accepted, the common case: its
    /// leads' ids and remote ids (made storable here, once), as `FinishAllAccepted` writes
    /// them, alone or with others'.
    public struct AcceptedWriteBack: Sendable {
        public let attemptId: Int64
        public let httpStatus: Int?
        public let leadIds: [Int64]
        public let remoteIds: [String]

        public init(attemptId: Int64, httpStatus: Int?, leadIds: [Int64], remoteIds: [String]) {
            self.attemptId = attemptId
            self.httpStatus = httpStatus
            self.leadIds = leadIds
            self.remoteIds = remoteIds
        }

        /// nil unless every lead of `plan` was accepted with nothing else to write.
        public init?(attemptId: Int64, httpStatus: Int?, plan: OutcomePlanner.Plan) {
            guard plan.project == .none, plan.outcome == .ok, plan.countsAttempt, plan.error == nil,
                plan.errorCount == 0, plan.unconfirmedCount == 0, plan.successCount == plan.changes.count
            else { return nil }
            var ids: [Int64] = []
            var remoteIds: [String] = []
            ids.reserveCapacity(plan.changes.count)
            remoteIds.reserveCapacity(plan.changes.count)
            for (id, change, result, message) in plan.changes {
                guard case .submitted(let remoteId, _) = change, result == .accepted, message == nil else { return nil }
                ids.append(id)
                remoteIds.append(StorableText.clean(remoteId ?? "", maxBytes: StorableText.messageBytes))
            }
            self.init(attemptId: attemptId, httpStatus: httpStatus, leadIds: ids, remoteIds: remoteIds)
        }
    }

    /// Writes the answers of several requests whose every lead was accepted in one
    /// statement (`AttemptQueries.FinishAllAccepted`): the attempts written; one missing is
    /// gone (pruned), and nothing was written for it.
    public func finishAllAccepted(_ writeBacks: [AcceptedWriteBack]) async throws -> Set<Int64> {
        guard !writeBacks.isEmpty else { return [] }
        return Set(try await prepared(AttemptQueries.FinishAllAccepted(writeBacks)))
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
        if let accepted = AcceptedWriteBack(attemptId: attemptId, httpStatus: httpStatus, plan: plan) {
            return try await !finishAllAccepted([accepted]).isEmpty
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
        return try await transaction { tx in
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
        _ = try await rows(AttemptQueries.renewLease(id: attemptId, lease: lease))
    }

    /// The last resort when an answer cannot be written at all (a data error the
    /// sanitising did not foresee): the attempt is closed as `bad_response` with why, and
    /// its leads go back to pending, ambiguous, after `delay`, so a duplicate answer then
    /// confirms what Uservox already had. Nothing is lost, nothing held forever.
    @discardableResult
    public func closeUnstorable(attemptId: Int64, leadIds: [Int64], why: String, delay: Duration) async throws -> Bool {
        try await transaction { tx in
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
        try await rows(LeadQueries.holdPending(project: project, reason: reason, message: message)).first?.decode(
            Int.self) ?? 0
    }

    public func release(projects: [String], reason: HeldReason) async throws {
        guard !projects.isEmpty else { return }
        _ = try await rows(LeadQueries.release(projects: projects, reason: reason))
    }

    /// Closes attempts of dead workers; their leads go back to pending, ambiguous.
    public func abandonExpiredAttempts() async throws -> [(attemptId: Int64, project: String, leads: Int)] {
        try await rows(AttemptQueries.abandonExpired()).map { row in
            let (id, project, count) = try row.decode((Int64, String, Int64).self)
            return (id, project, Int(count))
        }
    }

    public func openAttempts(project: String) async throws -> Int {
        try await rows(AttemptQueries.openCount(project: project)).first?.decode(Int.self) ?? 0
    }

    public func compactLeadCounts() async throws {
        _ = try await rows(ProjectQueries.compactLeadCounts)
    }

    /// Pending leads per project and the age of each project's oldest, in seconds.
    public func backlog() async throws -> [(project: String, pending: Int, oldestAge: Double)] {
        try await rows(ProjectQueries.backlog).map { row in
            let (project, pending, age) = try row.decode((String, Int64, Double).self)
            return (project, Int(pending), age)
        }
    }

    // MARK: - The two routes

    /// The rows of `query`: one statement on the pool, or through a pooler one transaction
    /// that sets the sessions' settings first.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        guard perCall else { return try await client.rows(query, logger: logger) }
        return try await transaction { tx in try await tx.query(query, logger: logger).collect() }
    }

    /// A prepared statement's rows: named on the direct path, else as `rows` runs it.
    func prepared<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        guard direct else { return try await rows(statement) }
        return try await client.rows(statement, logger: logger)
    }

    /// A prepared statement's rows when it is not run named on the direct path: unnamed
    /// (parsed and planned with each call, which any pooler passes through), or named in
    /// the pooled transaction when the pooler keeps named statements. A named statement
    /// the pooler loses ("does not exist", "already exists") turns named statements off
    /// for good, with a warning, and the call is run again unnamed: it failed, so it
    /// changed nothing.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        if pooled != nil && named.value {
            do {
                return try await transaction { tx in try await tx.rows(statement, logger: logger) }
            } catch  where Self.isLostPreparedStatement(error) {
                if named.turnOff() {
                    notices.warning(
                        "the pooler does not keep named prepared statements; sending them unnamed from now on (set \(DatabaseSetup.preparedStatementsVariable)=off)",
                        metadata: ["error": "\(StoreError.from(error, doing: "prepared statement"))"])
                }
            }
        }
        let query = PostgresQuery(unsafeSQL: Statement.sql, binds: try statement.makeBindings())
        return try await rows(query).map { try statement.decodeRow($0) }
    }

    /// One transaction on the pool, through a pooler with the sessions' settings set first
    /// (unless they carry them).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { tx in
            try await pooled?.apply(on: tx, logger: logger)
            return try await body(tx)
        }
    }

    /// invalid_sql_statement_name, duplicate_prepared_statement: a pooler handed this
    /// client a server connection that lacks, or already has, the statement.
    static func isLostPreparedStatement(_ error: any Error) -> Bool {
        let state = sqlState(of: error)
        return state == "26000" || state == "42P05"
    }
}

/// A pool kept for latency-sensitive calls, and how many calls it has: one per
/// connection, and one more waiting behind each. Those calls are small (a few leads,
/// about a millisecond), so waiting behind one beats the shared pool, where a backlog's
/// write-back takes tens of milliseconds, or blocks. A caught-up lane's claim and its
/// request's write-back often want the connection at once; with no wait allowed the
/// write-back fell to the pool and waited for the backlog (docs/operating.md §22). Any
/// more callers go to the pool, so many caught-up projects never queue here for long.
final class ReservedConnections: Sendable {
    let client: PostgresClient
    private let capacity: Int
    private let inUse = Atomic<Int>(0)

    init(client: PostgresClient, capacity: Int) {
        self.client = client
        self.capacity = max(1, capacity)
    }

    /// True when a connection, or a place right behind a call on one, was free and is now
    /// this caller's (the reserved client queues it).
    func take() -> Bool {
        var current = inUse.load(ordering: .relaxed)
        while current < 2 * capacity {
            let (exchanged, original) = inUse.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func give() { inUse.subtract(1, ordering: .acquiringAndReleasing) }
}

/// Whether the hot queries are still named prepared statements; turned off once when a
/// pooler loses them.
final class NamedStatements: Sendable {
    private let flag: Atomic<Bool>
    init(_ value: Bool) { flag = Atomic(value) }
    var value: Bool { flag.load(ordering: .relaxed) }
    /// True for the call that turned it off.
    func turnOff() -> Bool { flag.exchange(false, ordering: .relaxed) }
}

/// Projects whose last batch of phone claims met a held phone (`LeadStore.refusedPhones`).
final class PhonesHeld: Sendable {
    private let projects = Mutex(Set<String>())
    func contains(_ project: String) -> Bool { projects.withLock { $0.contains(project) } }
    func set(_ project: String, held: Bool) {
        projects.withLock { if held { $0.insert(project) } else { $0.remove(project) } }
    }
}
