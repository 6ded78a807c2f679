import Testing

@testable import LeadSyncCore

/// The stored spellings are the public contract (docs/contract.md §2, §3).
@Suite struct StatesTests {
    @Test func leadStatesUseTheSpecSpelling() {
        #expect(LeadState.allCases.map(\.rawValue) == ["pending", "submitted", "invalid", "held", "cancelled"])
    }

    /// One definition of "answered": the outcomes of a 200, lead by lead (docs/contract.md §3).
    @Test func answeredOutcomesAreThoseOfA200() {
        #expect(OutcomePlanner.AttemptOutcome.allCases.filter(\.isAnswered) == [.ok, .partial, .rejected])
    }

    @Test func reasonsKnowTheirSource() {
        #expect(InvalidReason.localDuplicate.source == .local)
        #expect(InvalidReason.apiDuplicateCall.source == .api)
        #expect(HeldReason.retriesExhausted.rawValue == "retries_exhausted")
    }
}
