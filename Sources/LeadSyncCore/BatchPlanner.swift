/// Cuts ready leads (oldest first) into requests (docs/contract.md §4): at most `maxBatchSize` leads of
/// one mode and one `init` value, every `referenceId` unique within its request so each
/// answer item matches one row. The first batch is the oldest lead's; leads that do not fit
/// it wait for the next plan, so order is kept.
public enum BatchPlanner {
    public struct Batch: Sendable, Equatable {
        public var mode: BatchMode
        public var initialize: Bool
        public var leads: [Lead]

        public init(mode: BatchMode, initialize: Bool, leads: [Lead]) {
            self.mode = mode
            self.initialize = initialize
            self.leads = leads
        }
    }

    /// The next request to send from `ready`, or nil when there is nothing.
    public static func nextBatch(from ready: [Lead], maxBatchSize: Int) -> Batch? {
        guard let first = ready.first, maxBatchSize > 0 else { return nil }
        var batch = Batch(mode: first.mode, initialize: first.initialize, leads: [])
        batch.leads.reserveCapacity(min(ready.count, maxBatchSize))
        // Sized once: growing them rehashed every key several times per batch.
        var references = Set<String>(minimumCapacity: min(ready.count, maxBatchSize))
        var phones = Set<String>(minimumCapacity: batch.mode == .leads ? min(ready.count, maxBatchSize) : 0)
        for lead in ready where lead.mode == batch.mode && lead.initialize == batch.initialize {
            // A repeated referenceId or phone would make the answer ambiguous: next request.
            let reference = lead.wireReferenceId
            guard references.insert(reference).inserted else { continue }
            if let key = lead.phoneKey, !phones.insert(key).inserted {
                references.remove(reference)
                continue
            }
            batch.leads.append(lead)
            if batch.leads.count == maxBatchSize { break }
        }
        return batch
    }

}
