/// What happened to one lead of a processed request.
enum LeadOutcome: Sendable, Equatable {
    case accepted(id: String)
    case rejected(String)

    var isDuplicate: Bool {
        switch self {
        case .rejected(UservoxMessage.alreadyExists), .rejected(UservoxMessage.duplicateCall): true
        default: false
        }
    }
}

/// One project's memory: its rate window, duplicate strikes, the phones and ids it has
/// accepted, its verdicts and counters. A value type with `now` passed in, so the rules
/// are tested without a clock or a socket; the simulator keeps one per project behind a lock.
struct ProjectLedger {
    typealias Instant = ContinuousClock.Instant

    private(set) var stats = ProjectStats()
    private(set) var verdicts: [SimulatorVerdict] = []
    private(set) var blockedUntil: Instant?
    private var window = SlidingWindow()
    private var received = WindowPeak()
    private var strikes = InstantQueue()
    /// Dedupe key of each accepted phone → the processId it was accepted under.
    private var acceptedPhones: [String: String?] = [:]
    /// The numbers of the ids this project accepted leads under (`uv_<n>`), ascending: the
    /// simulator's counter only grows, so recording one is an append, not a hash insert.
    private var acceptedNumbers: [Int] = []
    private var initiatedIds: Set<String> = []
    private var verdictIndex: [String: Int] = [:]
    /// Per verdict, the last request (`requestSerial`) that carried its lead: a lead twice
    /// in one request is not a resend.
    private var lastRequest: [Int] = []
    private var requestSerial = 0

    /// Whether a request may go on to be processed.
    enum Gate: Equatable {
        case admitted
        case notFound
        case inactive
        /// Duplicate protection holds the project for this long still.
        case blocked(retryAfter: Duration)
        /// The rate window is full; a slot frees after this long.
        case limited(retryAfter: Duration)
    }

    /// Counts the request and decides the project-level answers (403s, 429s).
    mutating func receive(
        at now: Instant,
        project: SimulatorConfiguration.Project,
        limit: SimulatorConfiguration.RateLimit
    ) -> Gate {
        stats.requests += 1
        received.record(now, window: limit.window)
        stats.maxRequestsInWindow = received.peak
        guard project.exists else {
            stats.refused += 1
            return .notFound
        }
        guard project.active else {
            stats.refused += 1
            return .inactive
        }
        if let until = blockedUntil {
            if now < until {
                stats.rateLimited += 1
                return .blocked(retryAfter: until - now)
            }
            blockedUntil = nil
        }
        switch window.admit(at: now, limit: limit.requests, window: limit.window) {
        case .admitted:
            return .admitted
        case .full(let retryAfter):
            stats.rateLimited += 1
            return .limited(retryAfter: retryAfter)
        }
    }

    /// Counts a parsed body's items, and those that already had a final answer, for a
    /// request that is not processed (`process` counts its own).
    mutating func noteReceived(_ request: BulkRequest) {
        stats.leadsReceived += request.count
        func note(_ identity: String) {
            if let index = verdictIndex[identity], verdicts[index].answered { stats.resentAfterFinal += 1 }
        }
        switch request {
        case .leads(let leads): for lead in leads { note(lead.identity) }
        case .leadIds(let ids): for id in ids { note("i:" + id) }
        }
    }

    mutating func noteRefused() { stats.refused += 1 }
    mutating func noteServerError() { stats.serverErrors += 1 }
    mutating func noteDropped() { stats.dropped += 1 }

    /// Applies the per-lead rules in order. `answered` says whether the client will see
    /// these verdicts (a 200) or not ("processed then 500").
    mutating func process(
        _ request: BulkRequest,
        project: String,
        answered: Bool,
        at now: Instant,
        protection: SimulatorConfiguration.DuplicateProtection,
        nextIdNumber: () -> Int
    ) -> [LeadOutcome] {
        stats.leadsReceived += request.count
        requestSerial += 1
        var outcomes: [LeadOutcome] = []
        outcomes.reserveCapacity(request.count)
        var duplicates = 0
        switch request {
        case .leads(let leads):
            for lead in leads {
                let outcome = decide(lead, nextIdNumber: nextIdNumber)
                if outcome.isDuplicate { duplicates += 1 }
                record(
                    outcome, identity: lead.identity, answered: answered,
                    verdict: SimulatorVerdict(
                        project: project, referenceId: lead.referenceId, phone: lead.phoneText, leadId: nil,
                        result: .accepted, id: nil, error: nil, received: 0, answered: false))
                outcomes.append(outcome)
            }
        case .leadIds(let ids):
            for id in ids {
                let outcome = decide(leadId: id)
                if outcome.isDuplicate { duplicates += 1 }
                record(
                    outcome, identity: "i:" + id, answered: answered,
                    verdict: SimulatorVerdict(
                        project: project, referenceId: nil, phone: nil, leadId: id,
                        result: .accepted, id: nil, error: nil, received: 0, answered: false))
                outcomes.append(outcome)
            }
        }
        if protection.strikes > 0 && duplicates * 2 > request.count {
            strike(at: now, protection: protection)
        }
        return outcomes
    }

    private mutating func decide(_ lead: IncomingLead, nextIdNumber: () -> Int) -> LeadOutcome {
        switch lead.phone {
        case .invalid:
            return .rejected(UservoxMessage.invalidPhone)
        case .repeatingDigits:
            return .rejected(UservoxMessage.repeatingDigits)
        case .valid(let key):
            // One hash for the common case, a new phone; a known one is put back as it was.
            if let processId = acceptedPhones.updateValue(lead.processId, forKey: key) {
                acceptedPhones.updateValue(processId, forKey: key)
                return .rejected(
                    processId == lead.processId ? UservoxMessage.alreadyExists : UservoxMessage.duplicateCall)
            }
            let number = nextIdNumber()
            if let last = acceptedNumbers.last, number <= last {
                acceptedNumbers.insert(number, at: Self.position(of: number, in: acceptedNumbers))
            } else {
                acceptedNumbers.append(number)
            }
            return .accepted(id: "uv_\(number)")
        }
    }

    private mutating func decide(leadId: String) -> LeadOutcome {
        if initiatedIds.contains(leadId) { return .rejected(UservoxMessage.alreadyExists) }
        guard leadId.hasPrefix("uv_"), let number = Int(leadId.dropFirst(3)),
            acceptedNumbers[Self.position(of: number, in: acceptedNumbers)...].first == number
        else { return .rejected(UservoxMessage.leadNotFound) }
        initiatedIds.insert(leadId)
        return .accepted(id: leadId)
    }

    private mutating func record(
        _ outcome: LeadOutcome, identity: String, answered: Bool, verdict fresh: SimulatorVerdict
    ) {
        var verdict: SimulatorVerdict
        let index: Int
        // One hash for the common case, a lead seen for the first time.
        if let existing = verdictIndex.updateValue(verdicts.count, forKey: identity) {
            verdictIndex[identity] = existing
            index = existing
            verdict = verdicts[existing]
            if verdict.answered && lastRequest[existing] != requestSerial { stats.resentAfterFinal += 1 }
            lastRequest[existing] = requestSerial
            verdict.referenceId = fresh.referenceId
            verdict.phone = fresh.phone
        } else {
            index = verdicts.count
            verdicts.append(fresh)
            lastRequest.append(requestSerial)
            verdict = fresh
        }
        switch outcome {
        case .accepted(let id):
            stats.accepted += 1
            verdict.result = .accepted
            verdict.id = id
            verdict.error = nil
        case .rejected(let message):
            stats.rejected += 1
            verdict.result = .rejected
            verdict.id = nil
            verdict.error = message
        }
        verdict.received += 1
        verdict.answered = verdict.answered || answered
        verdicts[index] = verdict
    }

    /// Where `number` is or would go in the ascending `numbers`.
    private static func position(of number: Int, in numbers: [Int]) -> Int {
        var low = 0
        var high = numbers.count
        while low < high {
            let middle = (low + high) / 2
            if numbers[middle] < number { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private mutating func strike(at now: Instant, protection: SimulatorConfiguration.DuplicateProtection) {
        strikes.expire(before: now, window: protection.strikeWindow)
        strikes.append(now)
        if strikes.count >= protection.strikes {
            blockedUntil = now + protection.blockDuration
            strikes.removeAll()
            stats.blocks += 1
        }
    }
}
