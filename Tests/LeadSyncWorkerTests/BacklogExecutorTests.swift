import Testing

@testable import LeadSyncWorker

/// A backlog's lane runs on `BacklogExecutor`, and so does each database call it bounds
/// with `withTimeout` (a task of its own): those calls decode 1,000-lead claims, work
/// that must stay off NIO's event loops (docs/performance.md §15).
@Suite struct BacklogExecutorTests {
    @Test func aBoundedCallRunsWhereItsLaneRuns() async throws {
        let executor = BacklogExecutor.shared
        let inLane = try await Task(executorPreference: executor) {
            try await BacklogExecutor.$current.withValue(executor) {
                try await withTimeout(.seconds(5), "probe") { Self.runsOn(executor) }
            }
        }.value
        #expect(inLane)
        // A small project's lane sets none: its calls run where the worker's tasks do.
        let elsewhere = try await withTimeout(.seconds(5), "probe") { Self.runsOn(executor) }
        #expect(!elsewhere)
    }

    private static func runsOn(_ executor: BacklogExecutor) -> Bool {
        withUnsafeCurrentTask { $0?.unownedTaskExecutor == executor.asUnownedTaskExecutor() }
    }
}
