import Testing

@testable import LeadSyncCore

/// docs/contract.md §3, row by row.
@Suite struct OutcomePlannerTests {
    let leads = [
        Lead(id: 1, projectId: "p", processId: "a", phone: "+15551234561"),
        Lead(id: 2, projectId: "p", processId: "b", phone: "+15551234562", attemptCount: 2),
        Lead(id: 3, projectId: "p", processId: "a", phone: "+15551234563", ambiguous: true),
    ]
    let context = OutcomePlanner.Context(maxAttempts: 3, currentBatchSize: 1000, random: { _ in 0 })

    func plan(_ answer: APIAnswer) -> OutcomePlanner.Plan {
        OutcomePlanner.plan(answer: answer, leads: leads, context: context)
    }

    @Test func successErrorsAndUnmentioned() {
        let p = plan(
            .processed([
                1: .accepted(remoteId: "uv_1"),
                2: .rejected(message: "A call attempt has already been made to this phone number for this project"),
            ]))
        #expect(p.change(of: 1) == .submitted(remoteId: "uv_1", confirmedByDuplicate: false))
        #expect(
            p.change(of: 2)
                == .invalid(
                    .apiDuplicateCall,
                    message: "A call attempt has already been made to this phone number for this project"))
        #expect(p.change(of: 3) == .submitted(remoteId: nil, confirmedByDuplicate: false))
        #expect(p.changes.map(\.result) == [.accepted, .rejected, .unconfirmed])
        #expect(p.outcome == .partial && p.countsAttempt)
        #expect((p.successCount, p.errorCount, p.unconfirmedCount) == (1, 1, 1))
    }

    @Test(arguments: [
        ("A call attempt has already been made to this phone number for this project", InvalidReason.apiDuplicateCall),
        ("Phone number contains repeating digits pattern", .apiRepeatingDigits),
        ("Lead already exists for this project and process", .apiAlreadyExists),
        ("Invalid phone number format", .apiRejected),
    ])
    func messagesMapToReasons(_ message: String, _ reason: InvalidReason) {
        #expect(InvalidReason.fromAPIMessage(message) == reason)
    }

    @Test func ambiguousLeadAnsweredDuplicateIsSubmitted() {
        let p = plan(.processed([3: .rejected(message: "Lead already exists for this project and process")]))
        #expect(p.change(of: 3) == .submitted(remoteId: nil, confirmedByDuplicate: true))
        // The same answer for a lead never sent before is invalid.
        #expect(p.change(of: 1) == .submitted(remoteId: nil, confirmedByDuplicate: false))
        let q = plan(.processed([1: .rejected(message: "Lead already exists for this project and process")]))
        #expect(
            q.change(of: 1) == .invalid(.apiAlreadyExists, message: "Lead already exists for this project and process"))
    }

    @Test func allRejectedIsRejected() {
        let p = plan(.processed([1: .rejected(message: "x"), 2: .rejected(message: "y"), 3: .rejected(message: "z")]))
        #expect(p.outcome == .rejected)
    }

    @Test func tooManyLeadsShrinksTheBatchAndRequeuesWithoutCounting() {
        let p = plan(.batchTooLarge(maximum: 500, message: "Maximum of 500 leads allowed per request"))
        #expect(p.project == .shrinkBatch(to: 500))
        #expect(!p.countsAttempt)
        #expect(
            p.changes.map(\.change) == [
                .requeue(delay: .zero, ambiguous: false), .requeue(delay: .zero, ambiguous: false),
                .requeue(delay: .zero, ambiguous: true),
            ])
        #expect(plan(.batchTooLarge(maximum: nil, message: "too big")).project == .shrinkBatch(to: 500))
    }

    @Test func otherBadRequestHoldsTheLeads() {
        let p = plan(.badRequest(message: "Input must be an array", body: "{}"))
        #expect(p.changes.allSatisfy { $0.change == .held(.badRequest, message: "Input must be an array") })
    }

    @Test func forbiddenPausesTheProjectAndHolds() {
        let mismatch = plan(.forbidden(.projectMismatch, message: "Some leads have missing or invalid projectId"))
        #expect(mismatch.project == .pause(.tokenMismatch, message: "Some leads have missing or invalid projectId"))
        #expect(mismatch.changes.allSatisfy { if case .held(.tokenMismatch, _) = $0.change { true } else { false } })
        let inactive = plan(.forbidden(.projectInactive, message: "Project is inactive"))
        #expect(inactive.project == .pause(.projectInactive, message: "Project is inactive"))
        #expect(!inactive.countsAttempt)
    }

    @Test func processNotFoundInvalidatesThatProcessOnly() {
        let message = "Process not found for lead with processId: a"
        let p = plan(.processNotFound(processId: "a", message: message))
        #expect(p.change(of: 1) == .invalid(.apiProcessNotFound, message: message))
        #expect(p.change(of: 3) == .invalid(.apiProcessNotFound, message: message))
        #expect(p.change(of: 2) == .requeue(delay: .zero, ambiguous: false))
        #expect(p.errorCount == 2)
        #expect(!p.countsAttempt)
    }

    @Test func rateLimitedRequeuesWithoutCounting() {
        let p = plan(.rateLimited(retryAfter: .seconds(7), message: "Too many requests"))
        #expect(p.project == .rateLimited(retryAfter: .seconds(7)))
        #expect(!p.countsAttempt)
        // Requeued leads keep what they were: lead 3's earlier outcome is still unknown.
        #expect(p.change(of: 1) == .requeue(delay: .seconds(7), ambiguous: false))
        #expect(p.change(of: 3) == .requeue(delay: .seconds(7), ambiguous: true))
    }

    @Test func serverErrorsBackOffAndEndHeld() {
        let p = plan(.serverError(status: 503, message: "unavailable"))
        #expect(p.countsAttempt && p.outcome == .serverError)
        #expect(p.change(of: 1) == .requeue(delay: .milliseconds(500), ambiguous: true))
        // Lead 2 had 2 attempts; this third one exhausts max_attempts = 3.
        if case .held(.retriesExhausted, _) = p.change(of: 2) {} else { Issue.record("lead 2 should be held") }
    }

    @Test func notSentIsNotAmbiguous() {
        let p = plan(.notSent(message: "connection refused"))
        #expect(p.outcome == .networkError)
        #expect(p.change(of: 1) == .requeue(delay: .milliseconds(500), ambiguous: false))
        // A lead that was ambiguous before stays so.
        #expect(p.change(of: 3) == .requeue(delay: .milliseconds(500), ambiguous: true))
        #expect(plan(.timeout(message: "t")).change(of: 1) == .requeue(delay: .milliseconds(500), ambiguous: true))
        #expect(
            plan(.connectionLost(message: "c")).change(of: 1) == .requeue(delay: .milliseconds(500), ambiguous: true))
    }
}
