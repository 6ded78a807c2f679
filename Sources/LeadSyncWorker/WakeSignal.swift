import Synchronization

/// Coalesces wake-ups: many notifications for a project while the dispatcher is busy
/// become one. `all` means "scan everything" (after a reconnect, a SIGHUP, the sweep).
/// A project with a lane of its own (`route`) is woken there directly.
public final class WakeSignal: Sendable {
    private struct State {
        var projects: Set<String> = []
        var all = false
        /// Something changed that needs no scan (a lane ended): the waiter just looks again.
        var poked = false
        var waiter: CheckedContinuation<Void, Never>?
        var routes: [String: WakeSignal] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func wake(project: String) {
        let (lane, waiter) = state.withLock { s -> (WakeSignal?, CheckedContinuation<Void, Never>?) in
            if let lane = s.routes[project] { return (lane, nil) }
            s.projects.insert(project)
            defer { s.waiter = nil }
            return (nil, s.waiter)
        }
        lane?.wake(project: project)
        waiter?.resume()
    }

    /// From now on a notification of `project` wakes `lane` at once instead of this
    /// signal's waiter (the dispatcher), which would pass it on only after its heartbeat
    /// and sweep, queries that wait for the database like everyone's (docs/operating.md
    /// §22). nil: the lane ended; a notification it had not taken yet comes back here, so
    /// the dispatcher looks for the project again.
    func route(_ project: String, to lane: WakeSignal?) {
        let previous = state.withLock { s in
            defer { s.routes[project] = lane }
            return s.routes[project]
        }
        if lane == nil, let previous, previous.take().projects.contains(project) { wake(project: project) }
    }

    public func wakeAll() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.all = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Wakes the waiter without naming anything (a lane ended: its lock to give back, its
    /// place for a waiting project).
    public func poke() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.poked = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Whether a project's notification waits to be taken (nothing is taken).
    var hasProjects: Bool { state.withLock { !$0.projects.isEmpty } }

    /// What was signalled since the last call, without waiting.
    public func take() -> (all: Bool, projects: Set<String>) {
        state.withLock { s in
            defer {
                s.all = false
                s.poked = false
                s.projects = []
            }
            return (s.all, s.projects)
        }
    }

    /// Waits until something is signalled or `timeout` passes (or the task is cancelled).
    public func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = self.state.withLock { s -> Bool in
                            if s.all || s.poked || !s.projects.isEmpty || Task.isCancelled { return true }
                            s.waiter?.resume()
                            s.waiter = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                        defer { s.waiter = nil }
                        return s.waiter
                    }
                    waiter?.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
