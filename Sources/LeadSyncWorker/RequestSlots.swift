import DequeModule
import Synchronization

/// At most `capacity` requests out at once across all of a worker's projects: with many
/// busy projects, more requests in flight would not go faster (PostgreSQL on the same
/// cores is the limit) but would each hold a batch in memory. Waiters are served first
/// come, first served, so busy projects take turns.
final class RequestSlots: Sendable {
    private struct State {
        var available: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }
    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(available: max(1, capacity)))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.popFirst() { return waiter }
            state.available += 1
            return nil
        }
        next?.resume()
    }
}
