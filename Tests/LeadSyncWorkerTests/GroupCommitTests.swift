import LeadSyncStore
import LeadSyncTesting
import Synchronization
import Testing

@testable import LeadSyncWorker

/// Group commit of small projects' statements (`GroupCommit`): alone, one goes at once;
/// those that come while a group is written go together next, in one statement; a group
/// that fails is written again one by one, so each gets its own answer
/// (docs/performance.md §16).
@Suite struct GroupCommitTests {
    typealias Groups = GroupCommit<Int64, Bool>

    /// The items of each group written, in order; groups of more than one throw `failsGroups`.
    final class Written: Sendable {
        let groups = Mutex<[[Int64]]>([])
        let gate = Mutex(false)
        /// Callers the test counts as done.
        let callersDone = Mutex(0)
        let failsGroups: (any Error)?
        init(failsGroups: (any Error)? = nil) { self.failsGroups = failsGroups }

        func write(_ ids: [Int64]) async throws -> [Bool] {
            let first = groups.withLock {
                $0.append(ids)
                return $0.count == 1
            }
            // The first group is held until the test lets it go.
            if first { try await waitUntil("the first group released") { gate.withLock { $0 } } }
            if let failsGroups, ids.count > 1 { throw failsGroups }
            // Item 0 is gone: not written.
            return ids.map { $0 != 0 }
        }
    }

    /// The database refused the statement: it changed nothing.
    struct Refused: Error {}
    /// A deadline passed: the statement may yet commit.
    struct Unknown: Error {}

    /// Writes item 1, whose group is held until `others` all wait behind it, then lets it
    /// go: what each call came to, by item.
    static func behindAHeldGroup(_ groups: Groups, _ written: Written, others: [Int64]) async throws
        -> [Int64: Result<Bool, any Error>]
    {
        try await withThrowingTaskGroup(of: (Int64, Result<Bool, any Error>).self) { tasks in
            func write(_ id: Int64) {
                tasks.addTask {
                    do { return (id, .success(try await groups.write(id, written.write))) } catch {
                        return (id, .failure(error))
                    }
                }
            }
            write(1)
            try await waitUntil("the first group is written") { written.groups.withLock { $0.count == 1 } }
            others.forEach(write)
            try await waitUntil("\(others.count) wait") { groups.waiting == others.count }
            written.gate.withLock { $0 = true }
            var answers: [Int64: Result<Bool, any Error>] = [:]
            for try await (id, answer) in tasks { answers[id] = answer }
            return answers
        }
    }

    @Test func callsThatComeWhileGroupsAreWrittenGoTogetherNext() async throws {
        let groups = Groups(patience: .seconds(60), changedNothing: { $0 is Refused })
        let written = Written()
        let answers = try await Self.behindAHeldGroup(groups, written, others: [0, 2, 3, 4, 5])
        #expect(answers.mapValues { try? $0.get() } == [0: false, 1: true, 2: true, 3: true, 4: true, 5: true])
        let all = written.groups.withLock { $0 }
        #expect(all.count == 2)
        #expect(all.first == [1])
        #expect(Set(all.last ?? []) == [0, 2, 3, 4, 5])
        // Nothing runs now: the next goes at once, alone.
        #expect(try await groups.write(6, written.write))
        #expect(written.groups.withLock { $0.last } == [6])
    }

    /// A statement held up (a row lock an application holds) holds up only its own group:
    /// once it is overdue, the calls waiting go.
    @Test func aGroupHeldUpHoldsTheOthersBackOnlyUntilItIsOverdue() async throws {
        let groups = Groups(patience: .milliseconds(20), changedNothing: { $0 is Refused })
        let written = Written()
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { try await groups.write(1, written.write) }
            try await waitUntil("the first group is written") { written.groups.withLock { $0.count == 1 } }
            tasks.addTask {
                let second = try await groups.write(2, written.write)
                let third = try await groups.write(3, written.write)
                let open = second && third
                written.callersDone.withLock { $0 += 1 }
                return open
            }
            // Written while the first is still held up (the gate lets it go either way).
            await #expect(throws: Never.self) {
                try await waitUntil("2 and 3 written", timeout: .seconds(10)) {
                    written.callersDone.withLock { $0 == 1 }
                }
            }
            written.gate.withLock { $0 = true }
            for try await open in tasks { #expect(open) }
        }
        #expect(written.groups.withLock { $0 } == [[1], [2], [3]])
    }

    @Test func aGroupThatFailsIsWrittenOneByOne() async throws {
        let groups = Groups(patience: .seconds(60), changedNothing: { $0 is Refused })
        let written = Written(failsGroups: Refused())
        let answers = try await Self.behindAHeldGroup(groups, written, others: [0, 2, 3])
        #expect(answers.mapValues { try? $0.get() } == [0: false, 1: true, 2: true, 3: true])
        let all = written.groups.withLock { $0 }
        // [1], the group of three that failed, then each of them alone.
        #expect(all.count == 5)
        #expect(Set(all[1]) == [0, 2, 3])
        #expect(Set(all[2...].map { $0.count }) == [1])
        #expect(Set(all[2...].flatMap { $0 }) == [0, 2, 3])
    }

    /// A group whose statement may yet commit is not written again: each member fails with
    /// its error, as its own statement's would have.
    @Test func aGroupOfUnknownFateFailsEachMember() async throws {
        let groups = Groups(patience: .seconds(60), changedNothing: { $0 is Refused })
        let written = Written(failsGroups: Unknown())
        let answers = try await Self.behindAHeldGroup(groups, written, others: [2, 3])
        #expect(answers.mapValues { try? $0.get() } == [1: true, 2: nil, 3: nil])
        #expect(
            answers.values.filter { if case .failure(let error) = $0 { error is Unknown } else { false } }.count == 2)
        let all = written.groups.withLock { $0 }
        #expect(all.count == 2)
        #expect(Set(all.last ?? []) == [2, 3])
    }

    @Test func aFailedWriteAloneFailsItsCaller() async throws {
        let groups = Groups(changedNothing: { $0 is Refused })
        await #expect(throws: Refused.self) {
            try await groups.write(1) { _ in throw Refused() }
        }
        // The group ended with it: the next goes at once.
        #expect(try await groups.write(2) { $0.map { _ in true } })
    }

    @Test func aGroupIsAtMostMaxGroup() {
        var machine = GroupCommitMachine<Int>(maxGroup: 2)
        let first = machine.startAlone()
        let waits = [1, 2, 3].map { machine.arrive($0) }
        #expect(first == 1 && waits == [nil, nil, nil])
        let second = machine.release(1)
        #expect(second?.group == 2 && second?.members == [1, 2])
        // Released once (overdue), a group's end releases nothing more.
        #expect(machine.release(1) == nil)
        let third = machine.release(2)
        #expect(third?.group == 3 && third?.members == [3])
        #expect(machine.holding == 3)
        #expect(machine.release(3) == nil && machine.holding == nil)
        let next = machine.arrive(4)
        #expect(next == 4)
    }
}
