import Testing

@testable import LeadSyncCore

@Suite struct BatchPlannerTests {
    func lead(_ id: Int64, phone: String? = nil, ref: String? = nil, initialize: Bool = true, remote: String? = nil)
        -> Lead
    {
        Lead(
            id: id, projectId: "p", phone: phone ?? "+1555\(String(format3(id)))", referenceId: ref,
            initialize: initialize, remoteLeadId: remote)
    }

    /// Plans `ready` the way a lane does: one `nextBatch` after another, each taking its leads out.
    func plan(_ ready: [Lead], maxBatchSize: Int) -> [BatchPlanner.Batch] {
        var remaining = ready
        var result: [BatchPlanner.Batch] = []
        while let batch = BatchPlanner.nextBatch(from: remaining, maxBatchSize: maxBatchSize) {
            result.append(batch)
            let taken = Set(batch.leads.map(\.id))
            remaining.removeAll { taken.contains($0.id) }
        }
        return result
    }

    func format3(_ id: Int64) -> String {
        let text = String(id)
        return String(repeating: "1", count: max(0, 7 - text.count)) + text
    }

    @Test func capsAtTheBatchSizeAndKeepsOrder() {
        let ready = (1...25).map { lead($0) }
        let batches = plan(ready, maxBatchSize: 10)
        #expect(batches.map(\.leads.count) == [10, 10, 5])
        #expect(batches.flatMap(\.leads).map(\.id) == Array(1...25))
    }

    @Test func neverMixesModesOrInitValues() {
        let ready = [lead(1), lead(2, initialize: false), lead(3, remote: "L-3"), lead(4), lead(5, initialize: false)]
        let batches = plan(ready, maxBatchSize: 1000)
        #expect(batches.map { $0.leads.map(\.id) } == [[1, 4], [2, 5], [3]])
        #expect(batches.map(\.mode) == [.leads, .leads, .leadIds])
        #expect(batches.map(\.initialize) == [true, false, true])
    }

    @Test func repeatedReferenceIdsGoToSeparateRequests() {
        let ready = [lead(1, ref: "r"), lead(2, ref: "r"), lead(3)]
        let batches = plan(ready, maxBatchSize: 1000)
        #expect(batches.map { $0.leads.map(\.id) } == [[1, 3], [2]])
    }

    @Test func leadsWithoutReferenceGetOneFromTheirRow() {
        #expect(lead(42).wireReferenceId == "ls-42")
        #expect(lead(42, ref: "crm-7").wireReferenceId == "crm-7")
    }

    @Test func nothingToPlan() {
        #expect(BatchPlanner.nextBatch(from: [], maxBatchSize: 10) == nil)
    }
}

@Suite struct LeadValidatorTests {
    @Test func flagsWhatTheAPIWouldReject() {
        #expect(LeadValidator.check(Lead(id: 1, projectId: "p", phone: "not a phone"))?.reason == .localInvalidPhone)
        #expect(
            LeadValidator.check(Lead(id: 1, projectId: "p", phone: "+15550000000"))?.reason == .localRepeatingDigits)
        let big = "{\"k\":\"" + String(repeating: "x", count: LeadValidator.maxMetadataBytes) + "\"}"
        #expect(
            LeadValidator.check(Lead(id: 1, projectId: "p", phone: "+15551234567", metadata: big))?.reason
                == .localMetadataTooLarge)
        #expect(LeadValidator.check(Lead(id: 1, projectId: "p", phone: "+1 555 123 4567")) == nil)
        // leadIds mode sends no phone: nothing to check.
        #expect(LeadValidator.check(Lead(id: 1, projectId: "p", remoteLeadId: "L-1")) == nil)
    }
}

@Suite struct RetryBackoffTests {
    @Test func growsExponentiallyWithJitterUpToTheCap() {
        #expect(RetryBackoff.delay(afterAttempt: 1, random: 0) == .milliseconds(500))
        #expect(RetryBackoff.delay(afterAttempt: 1, random: 1) == .seconds(1))
        #expect(RetryBackoff.delay(afterAttempt: 3, random: 0) == .seconds(2))
        #expect(RetryBackoff.delay(afterAttempt: 30, random: 1) == RetryBackoff.cap)
    }
}
