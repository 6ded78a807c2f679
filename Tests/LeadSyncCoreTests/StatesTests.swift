import Testing

@testable import LeadSyncCore

/// The stored spellings are the public contract (docs/contract.md §2, §3).
@Suite struct StatesTests {
    @Test func leadStatesUseTheSpecSpelling() {
        #expect(LeadState.allCases.map(\.rawValue) == ["pending", "submitted", "invalid", "held", "cancelled"])
    }

    @Test func reasonsKnowTheirSource() {
        #expect(InvalidReason.localDuplicate.source == .local)
        #expect(InvalidReason.apiDuplicateCall.source == .api)
        #expect(HeldReason.retriesExhausted.rawValue == "retries_exhausted")
    }
}
