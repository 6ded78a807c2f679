import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import Synchronization

/// `leadsync prune --leads --older-than 90d` (docs/contract.md §7.3): deletes finished leads
/// (`LeadState.isFinished`: submitted, invalid, cancelled) last changed before the cutoff,
/// with their history, invalid markers and phone claims, one window of lead ids per
/// transaction. Never a pending (in flight included), held or recently changed lead, nor
/// one an open attempt lists. The request rows (`submission_attempts`) are kept: `report`
/// and `attempts` read them, and they are one per request, not per lead.
public struct PruneLeads: Sendable {
    public struct Options: Sendable {
        public var olderThan: Duration
        public var states: [LeadState]
        /// Lead ids walked per transaction (every one of them may be deleted).
        public var batchSize: Int
        /// A rest between transactions, for a prune that must stay out of the worker's way.
        public var pause: Duration
        public var dryRun: Bool

        public static let defaultBatchSize = 5000
        public static let batchSizes = 1...100_000

        public init(
            olderThan: Duration, states: [LeadState] = LeadState.finished, batchSize: Int = defaultBatchSize,
            pause: Duration = .zero, dryRun: Bool = false
        ) {
            self.olderThan = olderThan
            self.states = states
            self.batchSize = batchSize
            self.pause = pause
            self.dryRun = dryRun
        }
    }

    /// Leads of one project in one state.
    public struct Count: Sendable, Equatable {
        public var projectId: String
        public var state: String
        public var leads: Int
    }

    public struct Result: Sendable, Equatable {
        public var cutoff: Date
        public var states: [LeadState]
        public var dryRun: Bool
        /// Per project and state, ordered by both.
        public var counts: [Count]
        public var history = 0
        public var markers = 0
        public var claims = 0
        public var batches = 0

        public var leads: Int { counts.reduce(0) { $0 + $1.leads } }

        public var summary: String {
            let what =
                "\(plural(leads, "lead")) (\(states.map(\.rawValue).joined(separator: ", "))) last changed before \(Timestamp.format(cutoff))"
            var lines = [
                dryRun
                    ? "would delete \(what) (dry run: nothing deleted)"
                    : "deleted \(what) in \(plural(batches, "transaction")), with \(plural(history, "attempt_leads row")), \(plural(markers, "invalid marker")) and \(plural(claims, "phone claim"))"
            ]
            var byProject: [(String, [Count])] = []
            for count in counts {
                if byProject.last?.0 == count.projectId {
                    byProject[byProject.count - 1].1.append(count)
                } else {
                    byProject.append((count.projectId, [count]))
                }
            }
            for (project, counts) in byProject {
                lines.append("  \(project): " + counts.map { "\($0.state) \($0.leads)" }.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        }

        private func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
    }

    /// Where the walk is, after each transaction.
    public struct Progress: Sendable, Equatable {
        public var deleted: Int
        public var walkedUpTo: Int64
        public var lastId: Int64
        public var elapsed: Duration

        public var line: String {
            let share = lastId > 0 ? Double(walkedUpTo) / Double(lastId) * 100 : 100
            let seconds = elapsed.secondsValue
            let rate = seconds > 0 ? Double(deleted) / seconds : 0
            return
                "prune: \(deleted) leads deleted; lead ids walked up to \(walkedUpTo) of \(lastId) (\(Int(share.rounded(.down))) %); \(Int(rate.rounded())) leads/s"
        }
    }

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run(
        _ options: Options, now: Date? = nil, on connection: PostgresConnection,
        progress: (Progress) -> Void = { _ in }
    ) async throws -> Result {
        let now = try await resolveNow(now, on: connection)
        let cutoff = now.addingTimeInterval(-options.olderThan.secondsValue)
        let states = LeadState.allCases.filter { options.states.contains($0) }
        precondition(states.allSatisfy(\.isFinished), "only finished leads are pruned")
        var result = Result(cutoff: cutoff, states: states, dryRun: options.dryRun, counts: [])
        if options.dryRun {
            let inFlight = try await connection.firstRow(RetentionQueries.openLeadIds, logger: logger) ?? []
            result.counts = try await connection.rows(
                RetentionQueries.countPrunable(states: states, before: cutoff, except: inFlight), logger: logger
            ).map { Count(projectId: $0.projectId, state: $0.status, leads: $0.leads) }
            return result
        }

        // Leads inserted after the walk began are newer than any cutoff: the walk ends at
        // the last id there was when it started.
        let lastId = try await connection.firstRow(RetentionQueries.lastId, logger: logger) ?? nil
        guard let lastId else { return result }
        let clock = ContinuousClock()
        let started = clock.now
        var totals: [String: [String: Int]] = [:]
        var deleted = 0
        var afterId: Int64 = 0
        while afterId < lastId {
            let window: (upToId: Int64, rows: [RetentionQueries.DeletedRow])?
            do {
                window = try await pruneWindow(
                    after: afterId, lastId: lastId, states: states, cutoff: cutoff, options: options,
                    on: connection)
            } catch  where deleted > 0 {
                // What committed stays deleted; the operator learns how far it got.
                let cause: any Error = error as? AdminError ?? StoreError.from(error, doing: "prune --leads")
                throw AdminError(
                    .failed,
                    "prune --leads stopped after deleting \(deleted) leads in \(result.batches) transactions (lead ids up to \(afterId)); run it again to go on: \(cause)"
                )
            }
            guard let (upToId, rows) = window else { break }
            if !rows.isEmpty {
                result.batches += 1
                // The side counts are the window's, repeated on each of its rows.
                result.history += rows[0].history
                result.markers += rows[0].markers
                result.claims += rows[0].claims
            }
            for row in rows {
                totals[row.projectId, default: [:]][row.status, default: 0] += row.leads
                deleted += row.leads
            }
            afterId = upToId
            progress(Progress(deleted: deleted, walkedUpTo: afterId, lastId: lastId, elapsed: clock.now - started))
            if options.pause > .zero, afterId < lastId { try await Task.sleep(for: options.pause) }
        }
        result.counts = totals.keys.sorted().flatMap { project in
            totals[project, default: [:]].sorted { $0.key < $1.key }.map {
                Count(projectId: project, state: $0.key, leads: $0.value)
            }
        }
        return result
    }

    /// One window: the next `batchSize` lead ids after `afterId`, their prunable leads
    /// deleted in one transaction. Nil when no lead is left.
    private func pruneWindow(
        after afterId: Int64, lastId: Int64, states: [LeadState], cutoff: Date, options: Options,
        on connection: PostgresConnection
    ) async throws -> (upToId: Int64, rows: [RetentionQueries.DeletedRow])? {
        let logger = self.logger
        return try await failingOnClose(connection) {
            guard
                let windowEnd = try await connection.firstRow(
                    RetentionQueries.windowEnd(after: afterId, size: options.batchSize), logger: logger) ?? nil
            else { return nil }
            let upToId = min(windowEnd, lastId)
            let rows = try await connection.withTransaction(logger: logger) { tx in
                let inFlight = try await tx.firstRow(RetentionQueries.openLeadIds, logger: logger) ?? []
                let locked = try await tx.rows(
                    RetentionQueries.lockPrunable(
                        afterId: afterId, upToId: upToId, states: states, before: cutoff, except: inFlight),
                    logger: logger)
                guard !locked.isEmpty else { return [RetentionQueries.DeletedRow]() }
                return try await tx.rows(
                    RetentionQueries.deletePruned(locked, afterId: afterId, upToId: upToId), logger: logger)
            }
            return (upToId, rows)
        }
    }
}

/// Runs `operation` on `connection`, failing as soon as the connection closes. A statement
/// in flight when the server drops the connection (or sent just after) can wait forever:
/// PostgresNIO does not fail it, nor honour cancellation (Sources/LeadSyncWorker/Timeout.swift
/// works round the same). So the operation runs in a task of its own and the caller resumes
/// on whichever comes first; a stuck operation ends with the process.
func failingOnClose<T: Sendable>(
    _ connection: PostgresConnection, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = CloseRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.start(continuation, on: connection, operation)
    }
}

/// Whoever finishes first, the operation or the connection's close, resumes the caller.
private final class CloseRace<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func start(
        _ continuation: CheckedContinuation<T, any Error>, on connection: PostgresConnection,
        _ operation: @escaping @Sendable () async throws -> T
    ) {
        self.continuation.withLock { $0 = continuation }
        let work = Task {
            do { self.finish(.success(try await operation())) } catch { self.finish(.failure(error)) }
        }
        connection.closeFuture.whenComplete { _ in
            work.cancel()
            self.finish(.failure(AdminError(.failed, "the database closed the connection")))
        }
    }

    private func finish(_ result: Result<T, any Error>) {
        let continuation = self.continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }
        continuation?.resume(with: result)
    }
}
