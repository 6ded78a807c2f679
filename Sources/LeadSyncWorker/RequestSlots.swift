import DequeModule
import Synchronization

/// At most `capacity` requests of lanes draining a backlog out at once across all of a
/// worker's projects: with many busy projects, more requests in flight would not go faster
/// (PostgreSQL on the same cores is the limit) but would each hold a batch in memory.
/// Waiters are served first come, first served, so busy projects take turns; a lane that
/// has caught up (a few leads, someone waiting for them: docs/operating.md §7) goes ahead
/// of those draining a backlog, shortest job first, and may also take one of `reserved`
/// slots beyond `capacity` that only such lanes use, so it need not wait for a backlog's
/// request to end at all (docs/operating.md §22). Such lanes are paced by their own rate
/// limits and send small batches, so the backlog still gets its slots. A lane that has not
/// claimed yet (it may have started for one fresh lead) goes ahead of backlogs too, but
/// after lanes known to have caught up: when a worker starts beside a backlog every lane
/// is new, and a quiet project's next lead must not queue behind their first requests.
final class RequestSlots: Sendable {
    enum Priority: Sendable, Equatable {
        /// The lane's last claim was short: a few fresh leads.
        case caughtUp
        /// The lane has not claimed yet.
        case starting
        /// The lane drains a backlog.
        case backlog
    }

    private struct State {
        var inUse = 0
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
        var startingWaiters: Deque<CheckedContinuation<Void, Never>> = []
        var caughtUpWaiters: Deque<CheckedContinuation<Void, Never>> = []
    }
    private let state = Mutex(State())
    private let capacity: Int
    private let reserved: Int

    init(capacity: Int, reserved: Int = 1) {
        self.capacity = max(1, capacity)
        self.reserved = max(0, reserved)
    }

    /// Ahead of a backlog (`caughtUp`, then `starting`): served before every backlog
    /// waiter, and within `capacity + reserved`.
    func acquire(_ priority: Priority = .backlog) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.inUse < (priority == .backlog ? capacity : capacity + reserved) {
                    state.inUse += 1
                    return true
                }
                switch priority {
                case .caughtUp: state.caughtUpWaiters.append(continuation)
                case .starting: state.startingWaiters.append(continuation)
                case .backlog: state.waiters.append(continuation)
                }
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Lanes waiting for a slot (tests wait on it).
    var waiting: Int {
        state.withLock { $0.waiters.count + $0.startingWaiters.count + $0.caughtUpWaiters.count }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.inUse -= 1
            if state.inUse < capacity + reserved,
                let waiter = state.caughtUpWaiters.popFirst() ?? state.startingWaiters.popFirst()
            {
                state.inUse += 1
                return waiter
            }
            if state.inUse < capacity, let waiter = state.waiters.popFirst() {
                state.inUse += 1
                return waiter
            }
            return nil
        }
        next?.resume()
    }
}
