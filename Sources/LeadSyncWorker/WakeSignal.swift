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
        /// Which call of `wait` the waiter is (`Waiter`), so a timeout resumes only its own.
        var waiterId: UInt64 = 0
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
    /// The timeout is one of `Deadlines`' entries: no timer or task of its own per wait (a
    /// lane waits once or twice per request: docs/operating.md §21).
    public func wait(timeout: Duration) async {
        let waiter = Waiter()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = self.state.withLock { s -> Bool in
                    if s.all || s.poked || !s.projects.isEmpty || Task.isCancelled { return true }
                    s.waiter?.resume()
                    s.waiter = continuation
                    s.waiterId = waiter.id
                    return false
                }
                if resumeNow {
                    continuation.resume()
                    return
                }
                let deadline = Deadlines.shared.add(after: timeout) { self.resume(waiter.id) }
                waiter.deadline.withLock { $0 = deadline }
            }
        } onCancel: {
            self.resume(nil)
        }
        if let deadline = waiter.deadline.withLock({ $0 }) { Deadlines.shared.remove(deadline) }
    }

    /// Resumes the waiter: only the one `id` names (its timeout), or whichever waits (nil).
    private func resume(_ id: UInt64?) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard id == nil || s.waiterId == id else { return nil }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}

/// One call of `WakeSignal.wait`: its number, and its timeout once set.
private final class Waiter: Sendable {
    private static let counter = Atomic<UInt64>(0)
    let id = Waiter.counter.add(1, ordering: .relaxed).newValue
    let deadline = Mutex<Deadlines.Entry?>(nil)
}
