import LeadSyncCore
import Synchronization

/// Running totals of this process, for `--once`'s progress line and its summary.
public final class WorkerProgress: Sendable {
    public struct Totals: Sendable, Equatable {
        public var submitted = 0
        public var invalid = 0
        public var held = 0
        public var requeued = 0
    }

    /// Where a batch's time goes, summed over the process.
    public enum Phase: String, Sendable, CaseIterable {
        case claim, vet, record, encode, http, classify, writeBack = "write-back"
    }

    private let totals = Mutex(Totals())
    private let phases = Mutex([Phase: Duration]())

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

    public func add(_ phase: Phase, _ duration: Duration) {
        phases.withLock { $0[phase, default: .zero] += duration }
    }

    /// Time per 1000 leads sent, by phase: "claim 2.1 ms, vet 3.0 ms, …".
    public var phaseSummary: String {
        let (times, t) = (phases.withLock { $0 }, current)
        let sent = t.submitted + t.invalid + t.held + t.requeued
        guard sent > 0 else { return "nothing sent" }
        return Phase.allCases.map { phase in
            let ms = (times[phase] ?? .zero).secondsValue * 1000 * 1000 / Double(sent)
            return "\(phase.rawValue) \((ms * 10).rounded() / 10) ms"
        }.joined(separator: ", ")
    }

    public var line: String {
        let t = current
        return "submitted \(t.submitted)  invalid \(t.invalid)  held \(t.held)  retrying \(t.requeued)"
    }
}
