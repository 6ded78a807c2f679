import LeadSyncStore
import LeadSyncTesting
import Synchronization
import Testing

@testable import LeadSyncWorker

/// Group commit of small write-backs (`WriteBackGroups`): alone, one goes at once; those
/// that come while a group is written go together next, in one statement; a group that
/// fails is written again one by one, so each gets its own answer (docs/performance.md §16).
@Suite struct WriteBackGroupsTests {
    /// The attempt ids of each group written, in order; `failing` groups of more than one throw.
    final class Written: Sendable {
        let groups = Mutex<[[Int64]]>([])
        let gate = Mutex(false)
        let failsGroups: Bool
        init(failsGroups: Bool = false) { self.failsGroups = failsGroups }

        func write(_ items: [WriteBackGroups.Item]) async throws -> Set<Int64> {
            let ids = items.map(\.attemptId)
            let first = groups.withLock {
                $0.append(ids)
                return $0.count == 1
            }
            // The first group is held until the test lets it go.
            if first { try await waitUntil("the first group released") { gate.withLock { $0 } } }
            if failsGroups && ids.count > 1 { throw Refused() }
            // Attempt 0 is gone: not written.
            return Set(ids.filter { $0 != 0 })
        }
    }

    struct Refused: Error {}

    static func item(_ attemptId: Int64) -> WriteBackGroups.Item {
        .init(attemptId: attemptId, httpStatus: 200, leadIds: [attemptId * 10], remoteIds: [""])
    }

    @Test func writeBacksThatComeWhileOneIsWrittenGoTogetherNext() async throws {
        let groups = WriteBackGroups()
        let written = Written()
        try await withThrowingTaskGroup(of: (Int64, Bool).self) { tasks in
            tasks.addTask { (1, try await groups.write(Self.item(1), written.write)) }
            try await waitUntil("the first group is written") { written.groups.withLock { $0.count == 1 } }
            for id: Int64 in [0, 2, 3, 4, 5] {
                tasks.addTask { (id, try await groups.write(Self.item(id), written.write)) }
            }
            try await waitUntil("five wait") { groups.waiting == 5 }
            written.gate.withLock { $0 = true }
            var answers: [Int64: Bool] = [:]
            for try await (id, open) in tasks { answers[id] = open }
            #expect(answers == [0: false, 1: true, 2: true, 3: true, 4: true, 5: true])
        }
        let all = written.groups.withLock { $0 }
        #expect(all.count == 2)
        #expect(all.first == [1])
        #expect(Set(all.last ?? []) == [0, 2, 3, 4, 5])
        // Nothing runs now: the next goes at once, alone.
        #expect(try await groups.write(Self.item(6), written.write))
        #expect(written.groups.withLock { $0.last } == [6])
    }

    @Test func aGroupThatFailsIsWrittenOneByOne() async throws {
        let groups = WriteBackGroups()
        let written = Written(failsGroups: true)
        try await withThrowingTaskGroup(of: (Int64, Bool).self) { tasks in
            tasks.addTask { (1, try await groups.write(Self.item(1), written.write)) }
            try await waitUntil("the first group is written") { written.groups.withLock { $0.count == 1 } }
            for id: Int64 in [0, 2, 3] {
                tasks.addTask { (id, try await groups.write(Self.item(id), written.write)) }
            }
            try await waitUntil("three wait") { groups.waiting == 3 }
            written.gate.withLock { $0 = true }
            var answers: [Int64: Bool] = [:]
            for try await (id, open) in tasks { answers[id] = open }
            #expect(answers == [0: false, 1: true, 2: true, 3: true])
        }
        let all = written.groups.withLock { $0 }
        // [1], the group of three that failed, then each of them alone.
        #expect(all.count == 5)
        #expect(Set(all[1]) == [0, 2, 3])
        #expect(Set(all[2...].map { $0.count }) == [1])
        #expect(Set(all[2...].flatMap { $0 }) == [0, 2, 3])
    }

    @Test func aFailedWriteAloneFailsItsCaller() async throws {
        let groups = WriteBackGroups()
        await #expect(throws: Refused.self) {
            try await groups.write(Self.item(1)) { _ in throw Refused() }
        }
        // The group ended with it: the next goes at once.
        #expect(try await groups.write(Self.item(2)) { Set($0.map(\.attemptId)) })
    }

    @Test func aGroupIsAtMostMaxGroup() {
        var machine = WriteBackGroups.Machine<Int>(maxGroup: 2)
        let first = machine.startAlone()
        let waits = [1, 2, 3].map { machine.arrive($0) }
        #expect(first && waits == [false, false, false])
        let groups = [machine.groupEnded(), machine.groupEnded()]
        #expect(groups == [[1, 2], [3]])
        #expect(machine.running)
        let last = machine.groupEnded()
        #expect(last == nil && !machine.running)
        let next = machine.arrive(4)
        #expect(next)
    }
}
