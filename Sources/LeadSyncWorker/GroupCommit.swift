import LeadSyncCore
import LeadSyncStore
import NIOCore
import NIOPosix
import Synchronization

/// The statements small projects' lanes make once a request, written in groups: their
/// attempts and their all-accepted write-backs. Many small projects then cost one round
/// trip, one trigger run and one commit a group instead of one each (docs/performance.md §16).
struct StatementGroups: Sendable {
    let attempts = GroupCommit<LeadStore.NewAttempt, LeadStore.AttemptRecord>(
        changedNothing: LeadStore.refusedByServer)
    let writeBacks = GroupCommit<LeadStore.AcceptedWriteBack, Bool>(changedNothing: LeadStore.refusedByServer)

    /// Whether a batch of `leads` is small enough for its statements to go with others'
    /// (at most 50): a backlog's big statements go alone, as before, and never make a small
    /// one wait for theirs.
    static func groups(_ leads: Int) -> Bool { leads <= 50 }
}

/// Group commit: while a group's statement runs, the calls that come meanwhile wait, and
/// then go together as the next group, in one statement. Otherwise a call goes at once and
/// waits for nothing. A group that runs longer than `patience` (a lead's row locked by an
/// application's long transaction holds its statement up to the statement timeout) stops
/// holding the others back: the calls waiting then go as the next group. So a call waits
/// at most `patience` for its group to start, and one statement held up holds up only the
/// calls in its own group, never all small projects' (with at most `maxGroup` calls
/// waiting; the worker has `--max-requests`, 8 by default).
///
/// Every decision is `GroupCommitMachine`'s; this class hands the waiting their turn, and
/// tells the machine when a group is overdue (a timer on an event loop, cancelled when the
/// group ends in time: a group's usual statement takes a millisecond or two).
final class GroupCommit<Item: Sendable, Answer: Sendable>: Sendable {
    /// How a group is written: each item's answer, in order.
    typealias Write = @Sendable ([Item]) async throws -> [Answer]

    private let machine: Mutex<GroupCommitMachine<Waiter>>
    private let patience: Duration
    private let changedNothing: @Sendable (any Error) -> Bool

    /// - Parameter changedNothing: whether a group that failed with this error changed
    ///   nothing (the database refused its statement), so its members may each be written
    ///   again alone.
    init(
        patience: Duration = .milliseconds(20), maxGroup: Int = 64,
        changedNothing: @escaping @Sendable (any Error) -> Bool
    ) {
        machine = Mutex(GroupCommitMachine(maxGroup: maxGroup))
        self.patience = patience
        self.changedNothing = changedNothing
    }

    /// Writes `item`, alone or with others (`write` runs for a group): its answer. A group
    /// the database refused is written again one by one, at once, so one bad item fails no
    /// other. One whose fate is unknown (a deadline passed, a connection lost: its statement
    /// may still commit) fails each member with its error, as its own statement would have,
    /// and each goes on as it does then (a write-back retries, a lane ends).
    func write(_ item: Item, _ write: Write) async throws -> Answer {
        let turn: Turn
        if let group = machine.withLock({ $0.startAlone() }) {
            turn = .lead(group, [])
        } else {
            turn = await withCheckedContinuation { continuation in
                let waiter = Waiter(item: item, continuation: continuation)
                if let group = machine.withLock({ $0.arrive(waiter) }) {
                    continuation.resume(returning: .lead(group, []))
                }
            }
        }
        switch turn {
        case .written(let answer):
            return answer
        case .failed(let error):
            throw error
        case .alone:
            return try await write([item])[0]
        case .lead(let group, let followers):
            // On the loop this task runs on (the worker's tasks do: Sources/leadsync/main.swift),
            // the timer wakes no other thread.
            let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? MultiThreadedEventLoopGroup.singleton.any()
            let overdue = loop.scheduleTask(in: .nanoseconds(patience.nanosecondsValue)) { [self] in
                Self.start(machine.withLock { $0.release(group) })
            }
            func ended() {
                overdue.cancel()
                Self.start(machine.withLock { $0.release(group) })
            }
            let answers: [Answer]
            do {
                answers = try await write([item] + followers.map(\.item))
            } catch {
                ended()
                guard !followers.isEmpty, changedNothing(error) else {
                    for follower in followers { follower.continuation.resume(returning: .failed(error)) }
                    throw error
                }
                for follower in followers { follower.continuation.resume(returning: .alone) }
                return try await write([item])[0]
            }
            ended()
            for (follower, answer) in zip(followers, answers.dropFirst()) {
                follower.continuation.resume(returning: .written(answer))
            }
            return answers[0]
        }
    }

    /// Calls waiting for a group to end or to be overdue.
    var waiting: Int { machine.withLock { $0.waiting.count } }

    /// The next group, if the machine says one starts: its first waiter leads it.
    private static func start(_ next: (group: Int, members: [Waiter])?) {
        guard let next else { return }
        next.members[0].continuation.resume(returning: .lead(next.group, Array(next.members.dropFirst())))
    }

    /// What a waiting call is told when its turn comes.
    enum Turn: Sendable {
        /// Write group `Int`: this one and `followers`.
        case lead(Int, [Waiter])
        /// Written by the group's leader.
        case written(Answer)
        /// The group failed, changing nothing: write this one alone.
        case alone
        /// The group failed, and may yet commit.
        case failed(any Error)
    }

    struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Turn, Never>
    }
}

/// `GroupCommit`'s decisions: one group holds the others back at a time, the one started
/// last, until it ends or is overdue; a call that comes meanwhile waits, and then those
/// waiting (at most `maxGroup`) are the next group.
struct GroupCommitMachine<Waiting> {
    let maxGroup: Int
    /// The group holding the others back, if any.
    private(set) var holding: Int?
    private(set) var waiting: [Waiting] = []
    private var lastGroup = 0

    init(maxGroup: Int) {
        precondition(maxGroup >= 1)
        self.maxGroup = maxGroup
    }

    /// A group of one for a call that may go now (no group holds the others back), or nil.
    mutating func startAlone() -> Int? {
        guard holding == nil else { return nil }
        return newGroup()
    }

    /// `waiter` comes: a group of its own when it may go now (the group holding the others
    /// back ended meanwhile), else nil: it waits.
    mutating func arrive(_ waiter: Waiting) -> Int? {
        if let group = startAlone() { return group }
        waiting.append(waiter)
        return nil
    }

    /// `group` ended, or has run for longer than the patience: it no longer holds the
    /// others back. The next group, if some wait.
    mutating func release(_ group: Int) -> (group: Int, members: [Waiting])? {
        guard holding == group else { return nil }
        holding = nil
        guard !waiting.isEmpty else { return nil }
        let count = min(maxGroup, waiting.count)
        defer { waiting.removeFirst(count) }
        return (newGroup(), Array(waiting.prefix(count)))
    }

    private mutating func newGroup() -> Int {
        lastGroup &+= 1
        holding = lastGroup
        return lastGroup
    }
}
