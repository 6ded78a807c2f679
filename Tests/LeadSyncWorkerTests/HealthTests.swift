import Testing

@testable import LeadSyncWorker

/// docs/operating.md §13: `/healthz` answers 503 while the worker cannot make progress, so
/// an orchestrator restarts a wedged worker.
@Suite struct HealthTests {
    @Test func healthyOnlyWhileSomethingProgressesWithinTheLimit() {
        let health = WorkerHealth(stallLimit: .seconds(60))
        health.setLockSession(true)
        health.setListening(true)
        let start = ContinuousClock.now
        health.progressed(now: start)
        #expect(!health.isStalled(now: start + .seconds(59)))
        // Every slot held by requests that never end: nothing progresses.
        #expect(health.isStalled(now: start + .seconds(61)))
        // A request finishes (or a lane knows why it waits): healthy again.
        health.progressed(now: start + .seconds(61))
        #expect(!health.isStalled(now: start + .seconds(62)))
        // An earlier instant reported late never moves the clock back.
        health.progressed(now: start)
        #expect(!health.isStalled(now: start + .seconds(62)))
    }

    @Test func downSessionsAreUnhealthyWhateverTheProgress() {
        let health = WorkerHealth(stallLimit: .seconds(60))
        health.progressed()
        #expect(!health.isHealthy)
        health.setLockSession(true)
        health.setListening(true)
        #expect(health.isHealthy)
    }
}
