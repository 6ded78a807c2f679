import NIOCore
import NIOPosix
import Synchronization

/// The operation took longer than it may.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "\(what) timed out" }
}

/// Runs `operation`, giving up after `limit`.
///
/// A query on a connection the server dropped can wait forever without honouring
/// cancellation, and a task group would wait for it too. So the operation runs in a task
/// of its own that is cancelled, and the caller resumes, at the deadline; the stuck task
/// ends when its connection is finally torn down. Used for every database call of the
/// worker and for closing its own connections.
@discardableResult
func withTimeout<T: Sendable>(
    _ limit: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = TimeoutRace<T>()
    let executor = BacklogExecutor.current
    return try await withCheckedThrowingContinuation { continuation in
        race.start(continuation, limit: limit, what: what, on: executor, operation)
    }
}

/// Whoever finishes first, the operation or its deadline (`Deadlines`), resumes the caller;
/// the other is cancelled.
private final class TimeoutRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var deadline: Deadlines.Entry?
    }
    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, limit: Duration, what: String,
        on executor: (any TaskExecutor)?, _ operation: @escaping @Sendable () async throws -> T
    ) {
        state.withLock { $0.continuation = continuation }
        let work = Task(executorPreference: executor) {
            do { self.finish(.success(try await operation())) } catch { self.finish(.failure(error)) }
        }
        let deadline = Deadlines.shared.add(after: limit) { self.finish(.failure(TimedOut(what: what))) }
        // Finished already: nothing was there to cancel yet.
        let finished = state.withLock { state -> Bool in
            state.work = work
            state.deadline = deadline
            return state.continuation == nil
        }
        if finished {
            work.cancel()
            Deadlines.shared.remove(deadline)
        }
    }

    /// The first result resumes the caller and cancels the other side; later ones are dropped.
    private func finish(_ result: Result<T, any Error>) {
        let (continuation, work, deadline) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.deadline)
        }
        guard let continuation else { return }
        work?.cancel()
        if let deadline { Deadlines.shared.remove(deadline) }
        continuation.resume(with: result)
    }
}

/// The deadlines of the worker's waits in progress (database calls, lanes waiting for
/// work), watched by one event loop timer at a time, set for the earliest.
///
/// A timer per wait cost two event loop wake-ups (scheduling it from a task, cancelling it
/// when the wait ended first), and a `Task.sleep` stays queued with its task until its
/// deadline however early the wait ended: with many tenants a request's seven database
/// calls left seven, and their firing was most of what a worker that had just drained
/// spent while idle (docs/operating.md §21). Adding a deadline later than the timer's
/// (a database call's 30 s; most waits) and removing one touch only this table.
final class Deadlines: Sendable {
    static let shared = Deadlines()

    struct Entry: Sendable, Hashable {
        fileprivate let id: UInt64
        fileprivate let at: NIODeadline
    }

    private struct State {
        var entries: [Entry: @Sendable () -> Void] = [:]
        var nextId: UInt64 = 0
        /// When the earliest timer still to fire is set for; nil: none.
        var timer: NIODeadline?
    }
    private let state = Mutex(State())
    private let loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    /// Calls `expire` on an event loop once `limit` has passed, unless removed first.
    func add(after limit: Duration, _ expire: @escaping @Sendable () -> Void) -> Entry {
        let (seconds, attoseconds) = limit.components
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let delay =
            nanoseconds.overflow ? Int64.max / 2 : max(0, nanoseconds.partialValue + attoseconds / 1_000_000_000)
        let at = NIODeadline.now() + .nanoseconds(delay)
        let (entry, setTimer) = state.withLock { state -> (Entry, Bool) in
            state.nextId &+= 1
            let entry = Entry(id: state.nextId, at: at)
            state.entries[entry] = expire
            if let timer = state.timer, timer <= at { return (entry, false) }
            state.timer = at
            return (entry, true)
        }
        if setTimer { loop.scheduleTask(deadline: at) { self.fire(setFor: at) } }
        return entry
    }

    /// The wait ended first.
    func remove(_ entry: Entry) {
        _ = state.withLock { $0.entries.removeValue(forKey: entry) }
    }

    private func fire(setFor at: NIODeadline) {
        let now = NIODeadline.now()
        let (expired, next) = state.withLock { state -> ([@Sendable () -> Void], NIODeadline?) in
            if state.timer == at { state.timer = nil }
            var expired: [@Sendable () -> Void] = []
            var earliest: NIODeadline?
            for (entry, expire) in state.entries {
                if entry.at <= now {
                    expired.append(expire)
                } else if earliest.map({ entry.at < $0 }) ?? true {
                    earliest = entry.at
                }
            }
            if !expired.isEmpty { state.entries = state.entries.filter { $0.key.at > now } }
            guard let earliest, state.timer.map({ earliest < $0 }) ?? true else { return (expired, nil) }
            state.timer = earliest
            return (expired, earliest)
        }
        if let next { loop.scheduleTask(deadline: next) { self.fire(setFor: next) } }
        for expire in expired { expire() }
    }
}
