import DequeModule
import Synchronization

/// At most `capacity` requests out at once across all of a worker's projects: with many
/// busy projects, more requests in flight would not go faster (PostgreSQL on the same
/// cores is the limit) but would each hold a batch in memory. Waiters are served first
/// come, first served, so busy projects take turns; a lane that has caught up (a few
/// leads, someone waiting for them: docs/operating.md §7) goes ahead of those draining a
/// backlog, shortest job first. Such lanes are paced by their own rate limits and send
/// small batches, so the backlog still gets the slots nearly all the time.
final class RequestSlots: Sendable {
    private struct State {
        var available: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
        var aheadWaiters: Deque<CheckedContinuation<Void, Never>> = []
    }
    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(available: max(1, capacity)))
    }

    /// `ahead`: served before every waiter without it.
    func acquire(ahead: Bool = false) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                if ahead { state.aheadWaiters.append(continuation) } else { state.waiters.append(continuation) }
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Lanes waiting for a slot (tests wait on it).
    var waiting: Int { state.withLock { $0.waiters.count + $0.aheadWaiters.count } }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.aheadWaiters.popFirst() ?? state.waiters.popFirst() { return waiter }
            state.available += 1
            return nil
        }
        next?.resume()
    }
}
