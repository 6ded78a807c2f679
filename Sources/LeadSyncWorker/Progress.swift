import Synchronization

/// Running totals of this process, for `--once`'s progress line and its summary.
public final class WorkerProgress: Sendable {
    public struct Totals: Sendable, Equatable {
        public var submitted = 0
        public var invalid = 0
        public var held = 0
        public var requeued = 0
    }

    private let totals = Mutex(Totals())

    public init() {}

    public func add(submitted: Int = 0, invalid: Int = 0, held: Int = 0, requeued: Int = 0) {
        totals.withLock {
            $0.submitted += submitted
            $0.invalid += invalid
            $0.held += held
            $0.requeued += requeued
        }
    }

    public var current: Totals { totals.withLock { $0 } }

    public var line: String {
        let t = current
        return "submitted \(t.submitted)  invalid \(t.invalid)  held \(t.held)  retrying \(t.requeued)"
    }
}
