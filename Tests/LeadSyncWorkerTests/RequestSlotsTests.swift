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
                await slots.acquire(.caughtUp)
                order.names.withLock { $0.append("caught up") }
                slots.release()
            }
            try await waitUntil("the caught-up lane waits") { slots.waiting == 3 }
            slots.release()
            try await group.waitForAll()
        }
        #expect(order.names.withLock { $0 } == ["caught up", "backlog 1", "backlog 2"])
    }

    /// docs/operating.md §22: when a worker starts beside a backlog every lane is new and
    /// goes ahead for its first claim; a lane known to have caught up goes before them,
    /// reserved slot included.
    @Test func aLaneThatCaughtUpGoesAheadOfNewLanes() async throws {
        let slots = RequestSlots(capacity: 1, reserved: 1)
        await slots.acquire()
        await slots.acquire(.starting)
        let order = Order()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, priority) in [
                ("backlog", RequestSlots.Priority.backlog), ("new 1", .starting), ("new 2", .starting),
                ("caught up", .caughtUp),
            ] {
                group.addTask {
                    await slots.acquire(priority)
                    order.names.withLock { $0.append(name) }
                }
                let queued = slots.waiting
                try await waitUntil("\(name) waits") { slots.waiting == queued + 1 }
            }
            // One slot back at a time, each taker keeping it; the backlog's needs two (it
            // never takes the reserved one).
            for served in 1...3 {
                slots.release()
                try await waitUntil("\(served) served") { order.names.withLock { $0.count } == served }
            }
            slots.release()
            slots.release()
            try await group.waitForAll()
        }
        #expect(order.names.withLock { $0 } == ["caught up", "new 1", "new 2", "backlog"])
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
            await slots.acquire(.caughtUp)  // at once
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
