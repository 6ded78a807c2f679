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

    /// docs/operating.md §22: a lane that has caught up need not wait for a backlog's
    /// request to end; the reserved slot is never a backlog's.
    @Test func aReservedSlotServesOnlyALaneThatCaughtUp() async throws {
        let slots = RequestSlots(capacity: 1, reserved: 1)
        await slots.acquire()  // a backlog's request out
        let order = Order()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await slots.acquire()
                order.names.withLock { $0.append("backlog") }
            }
            try await waitUntil("the second backlog lane waits") { slots.waiting == 1 }
            await slots.acquire(ahead: true)  // at once
            order.names.withLock { $0.append("caught up") }
            // Its request ends: the backlog lane still waits for the backlog's slot.
            slots.release()
            #expect(slots.waiting == 1)
            slots.release()
            try await group.waitForAll()
        }
        #expect(order.names.withLock { $0 } == ["caught up", "backlog"])
        #expect(slots.waiting == 0)
    }
}
