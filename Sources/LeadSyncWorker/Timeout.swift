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

/// Whoever finishes first, the operation or the timer, resumes the caller; the other is cancelled.
private final class TimeoutRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var tasks: [Task<Void, Never>] = []
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
        let timer = Task {
            try? await Task.sleep(for: limit)
            if !Task.isCancelled { self.finish(.failure(TimedOut(what: what))) }
        }
        state.withLock { $0.tasks = [work, timer] }
    }

    /// The first result resumes the caller and cancels the other side; later ones are dropped.
    private func finish(_ result: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        guard let continuation else { return }
        for task in tasks { task.cancel() }
        continuation.resume(with: result)
    }
}
