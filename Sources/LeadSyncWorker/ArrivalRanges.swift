import LeadSyncStore

/// Where a lane looks for never-tried leads: the project's rows of `leadsync.arrivals`
/// (migration 0011) it has read, each with how far its range has been scanned. No I/O: the
/// lane reads the rows, claims inside `intervals`, reports what came back (`scanned`) and
/// deletes the rows `done` names.
///
/// Correct by construction: a row's leads commit with the row, so leads of a row read now
/// are all visible to the claims that follow, and a row is scanned from its first id
/// whenever it is first seen, wherever the lane has read before (a late commit). A row is
/// done once its range is scanned and none of the leads it gave is still buffered
/// (unrecorded): every lead in it is then recorded in an attempt (a dead worker's attempt
/// puts them back for a retry) or finished.
struct ArrivalRanges: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        let first: Int64
        let last: Int64
        /// The lowest id not yet scanned.
        var next: Int64
        var exhausted: Bool { next > last }
    }

    /// Known rows by id. Rows are never forgotten until deleted: scanning a range again is
    /// always safe (the claim reads only never-tried pending leads, and the lane drops those
    /// it holds).
    private(set) var ranges: [Int64: Range] = [:]

    /// Rows read now: a row not seen before is scanned from its first id.
    mutating func add(_ rows: [Arrival]) {
        for row in rows where ranges[row.id] == nil {
            ranges[row.id] = Range(first: row.firstId, last: row.lastId, next: row.firstId)
        }
    }

    /// Whether every row read is deleted.
    var isEmpty: Bool { ranges.isEmpty }

    /// Whether a range is left to scan.
    var hasWork: Bool { ranges.values.contains { !$0.exhausted } }

    /// What is left to scan, as disjoint intervals, lowest first, at most `limit`.
    func intervals(limit: Int) -> [(lo: Int64, hi: Int64)] {
        var open = ranges.values.filter { !$0.exhausted }.map { (lo: $0.next, hi: $0.last) }
        open.sort { $0.lo < $1.lo }
        var merged: [(lo: Int64, hi: Int64)] = []
        for interval in open {
            if let last = merged.last, interval.lo <= last.hi &+ 1 {
                merged[merged.count - 1].hi = max(last.hi, interval.hi)
            } else {
                if merged.count == limit { break }
                merged.append(interval)
            }
        }
        return merged
    }

    /// A claim over `intervals` came back with `ids` (ascending) of at most `limit`: short,
    /// every interval was read to its end; full, everything up to its last id was read.
    mutating func scanned(_ intervals: [(lo: Int64, hi: Int64)], ids: [Int64], limit: Int) {
        guard let top = intervals.last?.hi else { return }
        let upTo = ids.count < limit ? top : ids[ids.count - 1]
        for (id, range) in ranges where !range.exhausted && range.next <= upTo {
            // Only the part of the range inside the intervals just read.
            guard intervals.contains(where: { $0.lo <= range.next && range.next <= $0.hi }) else { continue }
            ranges[id]!.next = min(range.last, upTo) + 1
        }
    }

    /// Rows whose range is scanned and none of whose leads is in `buffered` (ascending ids,
    /// claimed but not yet recorded in an attempt).
    func done(buffered: [Int64]) -> [Int64] {
        ranges.compactMap { id, range in
            guard range.exhausted else { return nil }
            // The first buffered id at or above the range's first.
            var low = 0
            var high = buffered.count
            while low < high {
                let mid = (low + high) / 2
                if buffered[mid] < range.first { low = mid + 1 } else { high = mid }
            }
            return low < buffered.count && buffered[low] <= range.last ? nil : id
        }.sorted()
    }

    /// Rows deleted.
    mutating func forget(_ ids: [Int64]) {
        for id in ids { ranges[id] = nil }
    }
}
