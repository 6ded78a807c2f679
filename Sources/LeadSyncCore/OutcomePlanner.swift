/// docs/contract.md §3 as a pure function: what one API answer does to each lead of the request and
/// to the project. The worker writes the result back in one transaction.
public enum OutcomePlanner {
    /// `submission_attempts.outcome`.
    public enum AttemptOutcome: String, Sendable, CaseIterable {
        case ok, partial, rejected
        case batchTooLarge = "batch_too_large"
        case badRequest = "bad_request"
        case forbidden
        case processNotFound = "process_not_found"
        case rateLimited = "rate_limited"
        case serverError = "server_error"
        case timeout
        case networkError = "network_error"
        case badResponse = "bad_response"
        case abandoned

        /// The API answered the request lead by lead (docs/contract.md §3: a 200): every
        /// other outcome is the request's as a whole. The one definition of "answered".
        public var isAnswered: Bool { self == .ok || self == .partial || self == .rejected }
    }

    /// `attempt_leads.result`.
    public enum LeadResult: String, Sendable, CaseIterable {
        case accepted, rejected, unconfirmed, requeued, held, failed
    }

    public enum ProjectAction: Sendable, Equatable {
        case none
        case pause(HeldReason, message: String)
        case rateLimited(retryAfter: Duration?)
        case shrinkBatch(to: Int)
        /// 413: the lane halves its byte budget for a while (never the configured limit).
        case shrinkRequestBytes
    }

    /// One lead's new state.
    public enum LeadChange: Sendable, Equatable {
        case submitted(remoteId: String?, confirmedByDuplicate: Bool)
        case invalid(InvalidReason, message: String)
        /// Back to `pending`, ready after `delay`; `ambiguous` marks an unknown outcome.
        case requeue(delay: Duration, ambiguous: Bool)
        case held(HeldReason, message: String)
    }

    public struct Plan: Sendable, Equatable {
        public var outcome: AttemptOutcome
        /// Whether the attempt counts toward `max_attempts` (429 and 400-too-large do not).
        public var countsAttempt: Bool
        public var project: ProjectAction
        /// Every lead of the request, in request order.
        public var changes: [(leadId: Int64, change: LeadChange, result: LeadResult, message: String?)]
        public var successCount: Int
        public var errorCount: Int
        public var unconfirmedCount: Int
        public var error: String?

        public static func == (lhs: Plan, rhs: Plan) -> Bool {
            lhs.outcome == rhs.outcome && lhs.countsAttempt == rhs.countsAttempt && lhs.project == rhs.project
                && lhs.successCount == rhs.successCount && lhs.errorCount == rhs.errorCount
                && lhs.unconfirmedCount == rhs.unconfirmedCount && lhs.error == rhs.error
                && lhs.changes.count == rhs.changes.count
                && zip(lhs.changes, rhs.changes).allSatisfy {
                    $0.leadId == $1.leadId && $0.change == $1.change && $0.result == $1.result
                        && $0.message == $1.message
                }
        }

        public func change(of leadId: Int64) -> LeadChange? {
            changes.first { $0.leadId == leadId }?.change
        }
    }

    public struct Context: Sendable {
        public var maxAttempts: Int
        public var currentBatchSize: Int
        /// 0..<1 per lead, for back-off jitter; injected so tests are exact.
        public var random: @Sendable (Int64) -> Double

        public init(maxAttempts: Int, currentBatchSize: Int, random: @escaping @Sendable (Int64) -> Double) {
            self.maxAttempts = maxAttempts
            self.currentBatchSize = currentBatchSize
            self.random = random
        }
    }

    public static func plan(answer: APIAnswer, leads: [Lead], context: Context) -> Plan {
        switch answer {
        case .processed(let answers):
            return processed(answers, leads: leads)

        case .batchTooLarge(let maximum, let message):
            // A maximum at or above what was sent explains nothing: halve instead.
            let size = max(
                1, maximum.flatMap { $0 < context.currentBatchSize ? $0 : nil } ?? context.currentBatchSize / 2)
            return uniform(
                leads, outcome: .batchTooLarge, counts: false, project: .shrinkBatch(to: size), error: message
            ) { lead in (.requeue(delay: .zero, ambiguous: lead.ambiguous), .requeued) }

        case .payloadTooLarge(let message):
            // A lead that is too large alone can never go: invalid, never a loop
            // (docs/contract.md §3). Several: sent again in smaller requests, no attempt counted.
            if leads.count == 1 {
                var plan = uniform(leads, outcome: .rejected, counts: true, project: .none, error: message) { _ in
                    (.invalid(.apiRejected, message: message), .rejected)
                }
                plan.errorCount = 1
                return plan
            }
            return uniform(
                leads, outcome: .batchTooLarge, counts: false, project: .shrinkRequestBytes, error: message
            ) { lead in (.requeue(delay: .zero, ambiguous: lead.ambiguous), .requeued) }

        case .badRequest(let message, _):
            return uniform(leads, outcome: .badRequest, counts: true, project: .none, error: message) { _ in
                (.held(.badRequest, message: message), .held)
            }

        case .forbidden(let reason, let message):
            return uniform(
                leads, outcome: .forbidden, counts: false, project: .pause(reason.heldReason, message: message),
                error: message
            ) { _ in (.held(reason.heldReason, message: message), .held) }

        case .processNotFound(let processId, let message):
            guard let processId else {
                return uniform(leads, outcome: .processNotFound, counts: true, project: .none, error: message) { _ in
                    (.held(.badRequest, message: message), .held)
                }
            }
            var plan = uniform(leads, outcome: .processNotFound, counts: false, project: .none, error: message) {
                lead in
                lead.processId == processId
                    ? (.invalid(.apiProcessNotFound, message: message), .rejected)
                    : (.requeue(delay: .zero, ambiguous: lead.ambiguous), .requeued)
            }
            plan.errorCount = plan.changes.filter { $0.result == .rejected }.count
            return plan

        case .rateLimited(let retryAfter, let message):
            return uniform(
                leads, outcome: .rateLimited, counts: false, project: .rateLimited(retryAfter: retryAfter),
                error: message
            ) { lead in (.requeue(delay: retryAfter ?? .zero, ambiguous: lead.ambiguous), .requeued) }

        case .serverError(_, let message), .timeout(let message), .connectionLost(let message),
            .notSent(let message), .badResponse(_, let message):
            let outcome: AttemptOutcome
            switch answer {
            case .serverError: outcome = .serverError
            case .timeout: outcome = .timeout
            case .badResponse: outcome = .badResponse
            default: outcome = .networkError
            }
            let ambiguous = answer.isAmbiguous
            return uniform(leads, outcome: outcome, counts: true, project: .none, error: message) { lead in
                let attempts = lead.attemptCount + 1
                if attempts >= context.maxAttempts {
                    return (.held(.retriesExhausted, message: "\(attempts) attempts failed; last: \(message)"), .held)
                }
                let delay = RetryBackoff.delay(afterAttempt: attempts, random: context.random(lead.id))
                return (.requeue(delay: delay, ambiguous: ambiguous || lead.ambiguous), .failed)
            }
        }
    }

    private static func processed(_ answers: [Int64: LeadAnswer], leads: [Lead]) -> Plan {
        var plan = Plan(
            outcome: .ok, countsAttempt: true, project: .none, changes: [], successCount: 0, errorCount: 0,
            unconfirmedCount: 0, error: nil)
        plan.changes.reserveCapacity(leads.count)
        for lead in leads {
            switch answers[lead.id] ?? .unconfirmed {
            case .accepted(let remoteId):
                plan.successCount += 1
                plan.changes.append(
                    (lead.id, .submitted(remoteId: remoteId, confirmedByDuplicate: false), .accepted, nil))
            case .rejected(let message):
                let reason = InvalidReason.fromAPIMessage(message)
                if lead.ambiguous && reason.isDuplicate {
                    // docs/contract.md §3: an earlier unknown outcome, now answered "already there": it was accepted.
                    plan.successCount += 1
                    plan.changes.append(
                        (lead.id, .submitted(remoteId: nil, confirmedByDuplicate: true), .accepted, message))
                } else {
                    plan.errorCount += 1
                    plan.changes.append((lead.id, .invalid(reason, message: message), .rejected, message))
                }
            case .unconfirmed:
                // Processed but not mentioned: resending could duplicate it, so it is not
                // resent; it counts as submitted and the attempt records it as unconfirmed.
                plan.unconfirmedCount += 1
                plan.changes.append(
                    (
                        lead.id, .submitted(remoteId: nil, confirmedByDuplicate: false), .unconfirmed,
                        "not mentioned in the answer"
                    ))
            }
        }
        if plan.errorCount > 0 { plan.outcome = plan.successCount + plan.unconfirmedCount > 0 ? .partial : .rejected }
        return plan
    }

    private static func uniform(
        _ leads: [Lead], outcome: AttemptOutcome, counts: Bool, project: ProjectAction, error: String,
        _ decide: (Lead) -> (LeadChange, LeadResult)
    ) -> Plan {
        var plan = Plan(
            outcome: outcome, countsAttempt: counts, project: project, changes: [], successCount: 0, errorCount: 0,
            unconfirmedCount: 0, error: error)
        plan.changes.reserveCapacity(leads.count)
        for lead in leads {
            let (change, result) = decide(lead)
            plan.changes.append((lead.id, change, result, nil))
        }
        return plan
    }
}
