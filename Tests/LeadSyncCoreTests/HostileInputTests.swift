import Testing

@testable import LeadSyncCore

/// docs/contract.md §3, last paragraph: what the network sends is made storable, and no
/// answer may shrink a project for good or loop a lead.
@Suite struct HostileInputTests {
    @Test func storableTextDropsNULsAndKeepsTheRestVerbatim() {
        #expect(StorableText.clean("bad\u{0}thing\u{0}", maxBytes: 100) == "badthing")
        #expect(StorableText.clean("déjà vu ✓", maxBytes: 100) == "déjà vu ✓")
    }

    @Test func storableTextCutsByBytesOnAScalarBoundary() {
        // "é" is 2 bytes, "✓" 3: a cut inside either drops the whole scalar.
        #expect(StorableText.clean("aé✓", maxBytes: 2) == "a")
        #expect(StorableText.clean("aé✓", maxBytes: 3) == "aé")
        #expect(StorableText.clean("aé✓", maxBytes: 5) == "aé")
        #expect(StorableText.clean("aé✓", maxBytes: 6) == "aé✓")
        // Thousands of combining marks on one letter are one Character but many bytes.
        let zalgo = "e" + String(repeating: "\u{0301}", count: 5000)
        let cut = StorableText.clean(zalgo, maxBytes: StorableText.attemptErrorBytes)
        #expect(cut.utf8.count <= StorableText.attemptErrorBytes)
        #expect(cut.utf8.count >= StorableText.attemptErrorBytes - 1)
        #expect(String(decoding: Array(cut.utf8), as: UTF8.self) == cut)
    }

    let leads = [
        Lead(id: 1, projectId: "p", phone: "+15551234561"), Lead(id: 2, projectId: "p", phone: "+15551234562"),
    ]
    let context = OutcomePlanner.Context(maxAttempts: 8, currentBatchSize: 2, random: { _ in 0.5 })

    @Test func a413ForSeveralLeadsShrinksTheByteBudgetOnlyAndCountsNoAttempt() {
        let plan = OutcomePlanner.plan(
            answer: .payloadTooLarge(message: "Request Entity Too Large"), leads: leads, context: context)
        #expect(plan.project == .shrinkRequestBytes)
        #expect(!plan.countsAttempt)
        #expect(
            plan.changes.map(\.change) == [
                .requeue(delay: .zero, ambiguous: false), .requeue(delay: .zero, ambiguous: false),
            ])
    }

    @Test func a413ForOneLeadMakesItInvalidNeverALoop() {
        let plan = OutcomePlanner.plan(
            answer: .payloadTooLarge(message: "Request Entity Too Large"), leads: [leads[0]], context: context)
        #expect(plan.project == .none)
        #expect(plan.changes.map(\.change) == [.invalid(.apiRejected, message: "Request Entity Too Large")])
        #expect(plan.errorCount == 1)
    }

    @Test func aMaximumAtOrAboveWhatWasSentHalvesInstead() {
        let big = OutcomePlanner.plan(
            answer: .batchTooLarge(maximum: 5000, message: "Maximum of 5000 leads allowed per request"), leads: leads,
            context: .init(maxAttempts: 8, currentBatchSize: 600, random: { _ in 0 }))
        #expect(big.project == .shrinkBatch(to: 300))
        let small = OutcomePlanner.plan(
            answer: .batchTooLarge(maximum: 200, message: "Maximum of 200 leads allowed per request"), leads: leads,
            context: .init(maxAttempts: 8, currentBatchSize: 600, random: { _ in 0 }))
        #expect(small.project == .shrinkBatch(to: 200))
    }
}
