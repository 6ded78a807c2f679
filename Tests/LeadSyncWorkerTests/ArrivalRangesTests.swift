import LeadSyncStore
import Testing

@testable import LeadSyncWorker

/// `ArrivalRanges`: where a lane looks for never-tried leads (migration 0011).
struct ArrivalRangesTests {
    @Test func overlappingRangesMergeAndAFullClaimReadsUpToItsLastId() {
        var ranges = ArrivalRanges()
        ranges.add([
            Arrival(id: 1, firstId: 10, lastId: 20), Arrival(id: 2, firstId: 15, lastId: 30),
            Arrival(id: 3, firstId: 100, lastId: 100),
        ])
        let intervals = ranges.intervals(limit: 10)
        #expect(intervals.map(\.lo) == [10, 100] && intervals.map(\.hi) == [30, 100])
        // Full: read up to 17.
        ranges.scanned(intervals, ids: [10, 12, 17], limit: 3)
        #expect(ranges.ranges[1]?.next == 18 && ranges.ranges[2]?.next == 18 && ranges.ranges[3]?.next == 100)
        // Short: everything asked was read.
        let rest = ranges.intervals(limit: 10)
        #expect(rest.map(\.lo) == [18, 100])
        ranges.scanned(rest, ids: [25], limit: 3)
        #expect(!ranges.hasWork)
    }

    @Test func aRangeIsDoneOnlyOnceScannedAndNoneOfItsLeadsIsBuffered() {
        var ranges = ArrivalRanges()
        ranges.add([Arrival(id: 1, firstId: 10, lastId: 20), Arrival(id: 2, firstId: 30, lastId: 40)])
        #expect(ranges.done(buffered: []) == [])
        ranges.scanned(ranges.intervals(limit: 10), ids: [11, 35], limit: 5)
        #expect(ranges.done(buffered: [11, 35]) == [])
        #expect(ranges.done(buffered: [35]) == [1])
        #expect(ranges.done(buffered: [5, 25, 41]) == [1, 2])
        ranges.forget([1, 2])
        #expect(ranges.ranges.isEmpty)
    }

    /// A row seen for the first time is scanned from its first id, below whatever was read
    /// (a late commit); a row already known is not reset by reading it again.
    @Test func aLateRowIsScannedFromItsFirstId() {
        var ranges = ArrivalRanges()
        ranges.add([Arrival(id: 1, firstId: 10, lastId: 20)])
        ranges.scanned(ranges.intervals(limit: 10), ids: [10, 20], limit: 5)
        ranges.add([Arrival(id: 1, firstId: 10, lastId: 20), Arrival(id: 2, firstId: 5, lastId: 5)])
        let intervals = ranges.intervals(limit: 10)
        #expect(intervals.map(\.lo) == [5] && intervals.map(\.hi) == [5])
    }

    @Test func intervalsStopAtTheLimitAndOnlyThoseAreMarked() {
        var ranges = ArrivalRanges()
        ranges.add((1...5).map { Arrival(id: Int64($0), firstId: Int64($0 * 10), lastId: Int64($0 * 10)) })
        let two = ranges.intervals(limit: 2)
        #expect(two.map(\.lo) == [10, 20])
        ranges.scanned(two, ids: [], limit: 5)
        #expect(ranges.intervals(limit: 10).map(\.lo) == [30, 40, 50])
    }
}
