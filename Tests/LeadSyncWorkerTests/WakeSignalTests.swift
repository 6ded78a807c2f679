import Testing

@testable import LeadSyncWorker

/// Notifications of a project with a lane go straight to the lane (docs/operating.md §22).
@Suite struct WakeSignalTests {
    @Test func aNotificationOfAProjectWithALaneWakesTheLaneNotTheDispatcher() async throws {
        let dispatcher = WakeSignal()
        let lane = WakeSignal()
        dispatcher.route("p1", to: lane)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The lane waits as an idle lane does; the notification ends its wait.
            group.addTask { await lane.wait(timeout: .seconds(3600)) }
            dispatcher.wake(project: "p1")
            try await group.waitForAll()
        }
        #expect(lane.take().projects == ["p1"])
        #expect(dispatcher.take().projects.isEmpty)
        // Other projects still go to the dispatcher.
        dispatcher.wake(project: "p2")
        #expect(dispatcher.take().projects == ["p2"])
        // A notification the lane had not taken when it ended comes back to the dispatcher.
        dispatcher.wake(project: "p1")
        dispatcher.route("p1", to: nil)
        #expect(dispatcher.take().projects == ["p1"])
        dispatcher.wake(project: "p1")
        #expect(lane.take().projects.isEmpty)
        #expect(dispatcher.take().projects == ["p1"])
    }
}
