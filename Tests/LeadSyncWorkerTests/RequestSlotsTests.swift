import LeadSyncTesting
import Synchronization
import Testing

@testable import LeadSyncWorker

/// The worker-wide request slots (docs/operating.md §7): first come, first served, except
/// that a lane that has caught up goes ahead of lanes draining a backlog.
@Suite struct RequestSlotsTests {
    final class Order: Sendable {
        let names = Mutex<[String]>([])
    }

    @Test func aLaneThatCaughtUpGoesAheadOfABacklog() async throws {
        let slots = RequestSlots(capacity: 1, reserved: 0)
        await slots.acquire()
        let order = Order()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in ["backlog 1", "backlog 2"] {
                group.addTask {
                    await slots.acquire()
                    order.names.withLock { $0.append(name) }
                    slots.release()
                }
                let queued = slots.waiting
                try await waitUntil("\(name) waits") { slots.waiting == queued + 1 }
            }
            group.addTask {
                await slots.acquire(ahead: true)
                order.names.withLock { $0.append("caught up") }
                slots.release()
            }
            try await waitUntil("the caught-up lane waits") { slots.waiting == 3 }
            slots.release()
            try await group.waitForAll()
        }
        #expect(order.names.withLock { $0 } == ["caught up", "backlog 1", "backlog 2"])
    }
}
