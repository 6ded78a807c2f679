import LeadSyncStore
import Synchronization

/// Group commit for the small write-backs of the worker's requests: while one group's
/// statement runs, the write-backs that come meanwhile wait, and then go together as the
/// next group, in one statement (`LeadStore.finishAllAccepted`). Alone, a write-back goes
/// at once and waits for nothing. Many small projects' answers then cost one round trip,
/// one trigger run and one commit a group instead of one each (docs/performance.md §16).
///
/// Every decision is `WriteBackGroups.Machine`'s; this class hands the waiting their turn.
final class WriteBackGroups: Sendable {
    typealias Item = LeadStore.AcceptedWriteBack
    /// How a group is written: the attempts written (an attempt not among them was no
    /// longer open).
    typealias Write = @Sendable ([Item]) async throws -> Set<Int64>

    /// A request of at most this many leads is small enough to go with others: a backlog's
    /// big write-backs go alone, as before, and never make a small one wait for theirs.
    static let smallBatch = 50

    private let machine: Mutex<Machine<Waiter>>

    init(maxGroup: Int = 64) {
        machine = Mutex(Machine(maxGroup: maxGroup))
    }

    /// Writes `item`, alone or with others (`write` runs for a group): whether its attempt
    /// was still open. A failed group's members are each written alone then, so one bad
    /// write-back fails no other.
    func write(_ item: Item, _ write: Write) async throws -> Bool {
        let turn: Turn
        if machine.withLock({ $0.startAlone() }) {
            turn = .lead([])
        } else {
            turn = await withCheckedContinuation { continuation in
                let waiter = Waiter(item: item, continuation: continuation)
                if machine.withLock({ $0.arrive(waiter) }) { continuation.resume(returning: .lead([])) }
            }
        }
        switch turn {
        case .written(let open):
            return open
        case .alone:
            return try await write([item]).contains(item.attemptId)
        case .lead(let followers):
            let written: Set<Int64>
            do {
                written = try await write([item] + followers.map(\.item))
            } catch {
                handOver()
                if followers.isEmpty { throw error }
                for follower in followers { follower.continuation.resume(returning: .alone) }
                return try await write([item]).contains(item.attemptId)
            }
            handOver()
            for follower in followers {
                follower.continuation.resume(returning: .written(written.contains(follower.item.attemptId)))
            }
            return written.contains(item.attemptId)
        }
    }

    /// Write-backs waiting for the group written now to end.
    var waiting: Int { machine.withLock { $0.waiting.count } }

    /// The group ended: the next one's first waiter leads it.
    private func handOver() {
        guard let next = machine.withLock({ $0.groupEnded() }) else { return }
        next[0].continuation.resume(returning: .lead(Array(next.dropFirst())))
    }

    /// What a waiting write-back is told when its turn comes.
    enum Turn: Sendable {
        /// Write the group: this one and `followers`.
        case lead([Waiter])
        /// Written by the group's leader.
        case written(Bool)
        /// The group failed: write this one alone.
        case alone
    }

    struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Turn, Never>
    }

    /// The decisions: one group at a time; a write-back that comes while one runs waits,
    /// and when the group ends, those waiting (at most `maxGroup`) are the next.
    struct Machine<Waiting> {
        let maxGroup: Int
        private(set) var running = false
        private(set) var waiting: [Waiting] = []

        init(maxGroup: Int) {
            precondition(maxGroup >= 1)
            self.maxGroup = maxGroup
        }

        /// Whether a write-back may go now, alone (nothing runs): it then runs.
        mutating func startAlone() -> Bool {
            guard !running else { return false }
            running = true
            return true
        }

        /// `waiter` comes: true when it may go now (the group ended meanwhile), else it waits.
        mutating func arrive(_ waiter: Waiting) -> Bool {
            if startAlone() { return true }
            waiting.append(waiter)
            return false
        }

        /// The running group ended: the next group (its first member leads it), or nil
        /// when none waits and nothing runs now.
        mutating func groupEnded() -> [Waiting]? {
            guard !waiting.isEmpty else {
                running = false
                return nil
            }
            let count = min(maxGroup, waiting.count)
            defer { waiting.removeFirst(count) }
            return Array(waiting.prefix(count))
        }
    }
}
