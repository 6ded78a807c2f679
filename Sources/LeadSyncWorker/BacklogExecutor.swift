import Dispatch

/// Where a backlog's lane runs: Dispatch's threads, not NIO's event loops.
///
/// `leadsync worker` runs its tasks on the event loops that do its I/O (Sources/leadsync/
/// main.swift), so a small project's lane resumes where its answer was read, without a
/// thread hop (docs/performance.md §15). A backlog's lane decodes 1,000-lead claims and
/// encodes their bodies: on a loop, that work would delay every socket of the loop, a
/// quiet project's answers among them (docs/performance.md §12). So a lane started for a
/// backlog, and every task it starts, runs here instead.
final class BacklogExecutor: TaskExecutor {
    static let shared = BacklogExecutor()

    private let queue = DispatchQueue.global()

    private init() {}

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// The executor of the lane whose task this is (nil: the global one), for the tasks
    /// it starts outside its group (`withTimeout`).
    @TaskLocal static var current: BacklogExecutor?
}
