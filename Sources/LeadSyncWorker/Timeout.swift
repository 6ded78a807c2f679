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
/// ends when its connection is finally torn down. Used for the lock session's calls and
/// for closing the worker's own connections.
@discardableResult
func withTimeout<T: Sendable>(
    _ limit: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = TimeoutRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.start(continuation, limit: limit, what: what, operation)
    }
}

/// Whoever finishes first, the operation or the timer, resumes the caller; the other is
/// cancelled. The timer is an event loop's scheduled task, which a cancel takes off the
/// loop's queue: a `Task.sleep` cancelled stays queued, with its task's memory, until its
/// deadline, so with a 30 s limit every database call of the last 30 s was still held
/// (docs/operating.md §21: hundreds of MB and a steady CPU cost with many tenants).
private final class TimeoutRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Scheduled<Void>?
    }
    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, limit: Duration, what: String,
        _ operation: @escaping @Sendable () async throws -> T
    ) {
        state.withLock { $0.continuation = continuation }
        let work = Task {
            do { self.finish(.success(try await operation())) } catch { self.finish(.failure(error)) }
        }
        let (seconds, attoseconds) = limit.components
        let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(
            in: .nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        ) { self.finish(.failure(TimedOut(what: what))) }
        // Finished already: nothing was there to cancel yet.
        let finished = state.withLock { state -> Bool in
            state.work = work
            state.timer = timer
            return state.continuation == nil
        }
        if finished {
            work.cancel()
            timer.cancel()
        }
    }

    /// The first result resumes the caller and cancels the other side; later ones are dropped.
    private func finish(_ result: Result<T, any Error>) {
        let (continuation, work, timer) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.timer)
        }
        guard let continuation else { return }
        work?.cancel()
        timer?.cancel()
        continuation.resume(with: result)
    }
}
