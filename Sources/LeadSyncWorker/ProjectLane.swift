import LeadSyncCore
import LeadSyncStore
import Logging
import Synchronization
import UservoxClient

/// A project's rate limiter, kept across lanes so a lane that restarts remembers its
/// recent request starts.
public final class LimiterBox: Sendable {
    let value: Mutex<RateLimiter<ContinuousClock.Instant>>
    /// Whether it has been seeded from the database since this process took the project.
    let seeded = Mutex(false)

    init(settings: RateLimiter<ContinuousClock.Instant>.Settings) {
        value = Mutex(RateLimiter(settings: settings))
    }
}

/// What a lane's requests report while the lane goes on (an answer planned, a write-back
/// given up). The lane hands them to its state machine before every decision, as the
/// machine's `receive`.
final class LaneMailbox: Sendable {
    typealias Event = LaneStateMachine<ContinuousClock.Instant>.Event
    private let events = Mutex<[Event]>([])
    /// Requests whose task has ended and that the lane has not collected yet.
    private let ended = Atomic<Int>(0)

    func post(_ event: Event) { events.withLock { $0.append(event) } }
    func take() -> [Event] {
        events.withLock { events in
            if events.isEmpty { return [] }
            defer { events = [] }
            return events
        }
    }

    /// A request's task is about to end: collecting it will not wait.
    func requestEnded() { ended.add(1, ordering: .relaxed) }
    /// The lane collected a request.
    func collected() { ended.subtract(1, ordering: .relaxed) }
    var anyEnded: Bool { ended.load(ordering: .relaxed) > 0 }
}

/// Serves one project while this worker holds its lock: claims ready leads oldest first,
/// pre-checks them, cuts batches, waits for the rate limiter, records each attempt before
/// sending, keeps up to `max_in_flight` requests out, and writes every answer back. Every
/// decision is `LaneStateMachine`'s; the lane performs its actions.
struct ProjectLane: Sendable {
    let project: String
    let store: LeadStore
    let client: UservoxClient
    let tokens: TokenStore
    let limiter: LimiterBox
    let lock: ProjectLock
    let configuration: WorkerConfiguration
    let progress: WorkerProgress
    /// Signalled by the dispatcher when a notification names this project.
    let wake: WakeSignal
    /// The worker-wide cap on requests out at once.
    let slots: RequestSlots
    /// Small projects' attempts and write-backs, of all lanes, written in groups.
    let groups: StatementGroups
    let health: WorkerHealth
    let logger: Logger
    /// False once the lock session is lost or a graceful shutdown began: stop starting requests.
    let mayStart: @Sendable () -> Bool
    /// Whether the dispatcher lets this lane keep its project while idle (`LaneBudget`).
    var mayLinger: @Sendable () -> Bool = { true }
    /// What the lane reads at its start, when the dispatcher read it with other lanes'
    /// (`Dispatcher`, `ProjectLane.starts`); nil: the lane reads it.
    var start: LaneStart?

    typealias Exit = LaneExit
    typealias Machine = LaneStateMachine<ContinuousClock.Instant>

    func run() async throws -> Exit {
        let clock = ContinuousClock()
        // The row, open attempts, recent starts and how many leads are ready, in one round
        // trip (docs/operating.md §21, §22). A lane may start for one fresh lead: this call
        // is latency-sensitive; what it counts tells the machine whether the next ones are.
        var start = self.start
        if start == nil {
            start = try await database(
                "lane start", urgent: true,
                { [project] store in
                    try await Self.starts([project], store: store)[project]
                })
        }
        guard let start else { return .drained }
        let settings = start.settings
        if settings.paused { return .paused }

        // Requests another worker (or this one's lost lock session) still has out there
        // must end, or expire and be recovered by the sweep, before this lane sends.
        var open = start.openAttempts
        while open > 0 {
            guard mayStart() else { return .stopped }
            health.progressed()  // a known wait, bounded by the lease
            try await Task.sleep(for: .milliseconds(250))
            open = try await database(
                "open attempts", urgent: true, { [project] store in try await store.openAttempts(project: project) })
        }
        seedLimiterIfNeeded(settings, recentStarts: start.recentStarts)

        let mailbox = LaneMailbox()
        var machine = Machine(
            settings: settings,
            configuration: .init(
                once: configuration.once, gapScanInterval: configuration.gapScanInterval,
                idleLinger: configuration.idleLinger, sweepInterval: configuration.sweepInterval),
            now: clock.now, readyAtStart: start.ready)
        var exit = Exit.drained
        // Where never-tried leads may be (migration 0011), and how far the lane has read.
        var arrivals = ArrivalRanges()
        // The start read the arrival rows, and with a few ready the leads inside: the first
        // claim reads them again only when it scans for gaps (docs/operating.md §21).
        arrivals.add(start.arrivals)
        var startRead: StartRead? = StartRead(all: start.arrivals.count < Self.arrivalsRead, leads: start.firstClaim)
        var watch = CaughtUpWatch<ContinuousClock.Instant>(interval: configuration.sweepInterval)
        // No retry was due at the start: the first claim does not look for one.
        var retriesNone = !start.retriesDue
        // Phones of never-tried leads held, to be claimed with their attempts.
        var phones = DeferredPhones()
        // A query of the loop that fails ends the lane, but never cancels requests already
        // sent: they finish and are written back first (docs/contract.md §3.5).
        var failure: (any Error)?
        try await withThrowingTaskGroup(of: Int64.self) { group in
            do {
                // The token of the last decision: the one a batch decided on goes out with it.
                var token: String?
                // The machine's answer to what happened last (nil: nothing to report).
                var event: Machine.Event?
                loop: while true {
                    // What happened meanwhile, then the answer to the last action.
                    for posted in mailbox.take() { machine.receive(posted, now: clock.now) }
                    if !mayStart() { machine.receive(.shutdown, now: clock.now) }
                    machine.receive(.lingerAllowed(mayLinger()), now: clock.now)
                    if let current = tokens.token(for: project) {
                        token = current
                        machine.receive(.tokensChanged(present: true), now: clock.now)
                    } else {
                        machine.receive(.tokensChanged(present: false), now: clock.now)
                    }
                    let now = clock.now
                    let action = event.map { machine.handle($0, now: now) } ?? machine.nextAction(now: now)
                    event = nil

                    switch action {
                    case .readSettings:
                        let read = try await database("project settings", urgent: machine.latencySensitive) {
                            [project] store in try await store.project(project)
                        }
                        updateLimiter(read ?? machine.settings)
                        event = .settingsRead(read)
                    case .waitForRequest:
                        event = .writeBackDone(attemptId: try await collect(&group, mailbox))
                    case .waitForRequestOrWork(let timeout):
                        // The request's task wakes the lane as it ends (`send`).
                        if !mailbox.anyEnded { await wake.wait(timeout: timeout) }
                        let woken = wake.take()
                        if !woken.projects.isEmpty {
                            watch.notified()
                            event = .woken(notified: true)
                        } else if mailbox.anyEnded {
                            event = .writeBackDone(attemptId: try await collect(&group, mailbox))
                        } else {
                            event = .woken(notified: false)
                        }
                    case .checkRateLimit:
                        let now = clock.now
                        let earliest = limiter.value.withLock { $0.earliestStart(now: now) }
                        machine.receive(.rateLimitChecked(earliestStart: earliest), now: now)
                    case .sleep(let until):
                        health.progressed()  // a known wait, at most the longest back-off (60 s)
                        WorkerMetrics.rateLimitWait(project: project, duration: until - clock.now)
                        try await Task.sleep(until: until, clock: clock)
                        event = .windowOpened
                    case .awaitCompany(let until):
                        // Leads that arrived before now are found by the claim that follows:
                        // only a new arrival ends this wait early.
                        if !wake.take().projects.isEmpty { watch.notified() }
                        while clock.now < until {
                            await wake.wait(timeout: until - clock.now)
                            // A request of the lane that ended wakes it too (`send`): wait on.
                            if !wake.take().projects.isEmpty {
                                watch.notified()
                                break
                            }
                            if !mayStart() { break }
                        }
                        event = .companyWaitEnded
                    case .acquireSlot(let priority):
                        await slots.acquire(priority)
                        event = .slotGranted
                    case .releaseSlot:
                        slots.release()
                    case .claim(let afterId, let want, let scanGaps, let retries, let exclude, let lastLook):
                        let claimStarted = clock.now
                        let urgent = machine.latencySensitive
                        let (claimed, retriesFound, cursor) = try await claim(
                            afterId: afterId, want: want, scanGaps: scanGaps, retries: retries, exclude: exclude,
                            lastLook: lastLook,
                            arrivals: &arrivals, startRead: &startRead, watch: &watch, retriesNone: &retriesNone,
                            buffered: machine.buffer,
                            inFlight: machine.inFlight, urgent: urgent)
                        var vetted: [Lead] = []
                        if !claimed.isEmpty {
                            progress.add(.claim, clock.now - claimStarted)
                            let vetStarted = clock.now
                            vetted = try await vet(claimed, phones: &phones, urgent: urgent)  // in id order
                            progress.add(.vet, clock.now - vetStarted)
                        }
                        event = .claimed(
                            vetted: vetted, claimed: claimed.count, retriesFound: retriesFound, cursor: cursor)
                    case .waitForWork(let timeout):
                        health.progressed()  // caught up
                        await wake.wait(timeout: timeout)
                        let notified = !wake.take().projects.isEmpty
                        if notified { watch.notified() }
                        event = .woken(notified: notified)
                    case .send(var batch, let byteBudget):
                        // The machine sends only once a token was there.
                        guard let token else {
                            exit = .tokenMissing
                            break loop
                        }
                        // Bounded by bytes as well as by count (docs/contract.md §4).
                        let encodeStarted = clock.now
                        let urgent = machine.latencySensitive
                        guard
                            let body = try await cutToBudget(
                                &batch, budget: byteBudget, configured: machine.settings.maxRequestBytes, urgent: urgent
                            )
                        else {
                            // Its first lead alone is over `max_request_bytes`: now invalid, and
                            // its phone no longer held.
                            phones.remove([batch.leads[0].id])
                            event = .leadsRefused([batch.leads[0].id])
                            continue loop
                        }
                        progress.add(.encode, clock.now - encodeStarted)
                        let ids = batch.leads.map(\.id)
                        limiter.value.withLock { $0.recordStart(at: clock.now) }

                        // The arrival rows whose leads are all recorded once this is: deleted with it.
                        let done = arrivals.done(buffered: Self.left(machine.buffer, after: ids))
                        let recordStarted = clock.now
                        let recorded = try await recordAttempt(
                            batch.leads, ids: ids, doneArrivals: done, phones: &phones, urgent: urgent)
                        progress.add(.record, clock.now - recordStarted)
                        let attemptId: Int64
                        switch recorded {
                        case .recorded(let id):
                            attemptId = id
                        case .refused(let refused):
                            event = .leadsRefused(refused)
                            continue loop
                        case .lockLost:
                            logger.warning(
                                "project lock lost; stopping this project", metadata: ["project": "\(project)"])
                            event = .lockLost
                            continue loop
                        }
                        arrivals.forget(done)
                        // Known to the machine before its task can report anything.
                        machine.receive(.sent(attemptId: attemptId, leadIds: ids), now: clock.now)
                        let current = machine.settings
                        group.addTask {
                            await self.send(
                                batch, body: body, attemptId: attemptId, token: token, settings: current,
                                byteBudget: byteBudget, urgent: urgent, mailbox: mailbox)
                            // The slot went with the request.
                            self.slots.release()
                            mailbox.requestEnded()
                            self.wake.wakeAll()
                            return attemptId
                        }
                    case .finish(let reason):
                        if reason == .drained { health.progressed() }  // caught up
                        exit = reason
                        break loop
                    }
                }
            } catch {
                failure = error
            }
            if machine.holdsSlot { slots.release() }
            // In-flight requests finish and are written back before the lane ends.
            while try await group.next() != nil {}
        }
        if let failure { throw failure }

        if exit == .tokenMissing {
            let held = try await configuration.bounded("holding leads") { [store, project] in
                try await store.holdPending(
                    project: project, reason: .tokenMissing,
                    message: "no token for this project in LEADSYNC_TOKENS_FILE")
            }
            progress.add(held: held)
            logger.warning(
                "no token for project; its pending leads are held until one appears",
                metadata: ["project": "\(project)", "held": "\(held)"])
        }
        return exit
    }

    /// One request out, waiting for it to end: its attempt id, nil when none is out.
    private func collect(
        _ group: inout ThrowingTaskGroup<Int64, any Error>, _ mailbox: LaneMailbox
    ) async throws -> Int64? {
        let attemptId = try await group.next()
        if attemptId != nil { mailbox.collected() }
        return attemptId
    }

    /// Ready leads not already buffered or in flight: never-tried ones inside the project's
    /// arrival ranges (`ArrivalRanges`); with `retries`, those put back for a retry whose
    /// time has come (never those in `exclude`). The arrival rows are read again when
    /// `scanGaps` says it is time to look for late commits and new arrivals (now and then,
    /// and before idling), when no range is left to scan, and when the ranges known came
    /// short; rows done are deleted then. Also says how many retries it found, and the
    /// highest new id read (the machine's cursor: nothing is read by it). A plain claim
    /// right after a look that saw everything, with no notification since, asks nothing
    /// (`CaughtUpWatch`); nor does a first claim for retries when none was due at the start,
    /// nor a look that read the arrival rows and learnt with them that none is due. The
    /// first claim takes the arrival rows the lane's start read (`startRead`: whether all)
    /// unless it scans for gaps, and the leads inside them when the start read those. The
    /// look before idling (`lastLook`) asks nothing either when it could only delete arrival
    /// rows and none is left: the attempts deleted them (`startAttempt`).
    private func claim(
        afterId: Int64, want: Int, scanGaps: Bool, retries: Bool, exclude: [Int64], lastLook: Bool,
        arrivals: inout ArrivalRanges, startRead: inout StartRead?, watch: inout CaughtUpWatch<ContinuousClock.Instant>,
        retriesNone: inout Bool, buffered: [Lead], inFlight: [Int64: [Int64]], urgent: Bool
    ) async throws -> (leads: [Lead], retries: Int, cursor: Int64) {
        let fromStart = startRead
        startRead = nil
        if (lastLook ? arrivals.isEmpty : !scanGaps && !retries) && afterId > 0 && !arrivals.hasWork
            && !wake.hasProjects && watch.knowsNothingArrived(now: .now)
        {
            return ([], 0, afterId)
        }
        // Whether the arrival rows read by this look were all of them, and whether a retry
        // was due when they were read.
        var readAll: Bool?
        var retryDue: Bool?
        var found: [Lead] = []
        if !scanGaps && !arrivals.hasWork && afterId > 0 {
            // A lane that has claimed before and has no range left looks above the highest
            // id it has claimed first: what arrived since (a caught-up lane's next lead) in
            // one round trip instead of two. Nothing up there is buffered or out; the leads'
            // arrival rows are read at the next look (`scanGaps`, or when this finds none),
            // and scanning their ranges then finds these leads no longer new.
            found = try await database("claim", urgent: urgent) { [project] store in
                try await store.arrivedLeads(project: project, lows: [afterId + 1], highs: [.max], limit: want)
            }
        }
        if found.isEmpty {
            var looked = false
            var read: [Lead]?
            if let fromStart, !scanGaps {
                // Read a moment ago; a lead committed since comes with a notification.
                readAll = fromStart.all
                read = fromStart.leads
                looked = true
            } else if scanGaps || !arrivals.hasWork {
                (readAll, retryDue) = try await readArrivals(&arrivals, buffered: buffered, urgent: urgent)
                looked = true
            }
            found = try await claimArrived(
                &arrivals, want: want, buffered: buffered, inFlight: inFlight, urgent: urgent, read: read)
            if found.count < want && !looked {
                // What this claim found is not recorded yet either.
                (readAll, retryDue) = try await readArrivals(&arrivals, buffered: buffered + found, urgent: urgent)
                if arrivals.hasWork {
                    var seen = Set(found.map(\.id))
                    for lead in try await claimArrived(
                        &arrivals, want: want - found.count, buffered: buffered, inFlight: inFlight, urgent: urgent)
                    where seen.insert(lead.id).inserted {
                        found.append(lead)
                    }
                }
            }
        }
        let cursor = found.reduce(afterId) { max($0, $1.id) }
        watch.looked(complete: readAll == true && found.count < want && !arrivals.hasWork, at: .now)
        // Known at the lane's start, for its first claim only.
        let noneDue = retriesNone || retryDue == false
        retriesNone = false
        guard retries, !noneDue else { return (found, 0, cursor) }

        let due = try await database("claim retries", urgent: urgent) { [project] store in
            try await store.leads(LeadQueries.claimDueRetries(project: project, except: exclude, limit: want))
        }
        if !due.isEmpty {
            // A lead that changed between the queries could be in both.
            var seen = Set(found.map(\.id))
            for lead in due where seen.insert(lead.id).inserted { found.append(lead) }
        }
        return (found, due.count, cursor)
    }

    /// The most arrival rows read at once, and ranges claimed from in one query.
    static let arrivalsRead = 256
    static let rangesPerClaim = 64

    /// The starts of several lanes in one round trip (`run` reads its own with it).
    static func starts(_ projects: [String], store: LeadStore) async throws -> [String: LaneStart] {
        try await store.laneStarts(
            projects: projects, countUpTo: Machine.startCount, arrivals: arrivalsRead, firstClaim: Machine.startCount,
            ranges: rangesPerClaim)
    }

    /// What the lane's start read for its first claim: whether every arrival row, and
    /// every never-tried lead inside them (`LaneStart.firstClaim`) when it read those.
    struct StartRead {
        var all: Bool
        var leads: [Lead]?
    }

    /// Reads the project's arrival rows, deleting those done first: whether it read them all,
    /// and whether a retry of the project was due.
    private func readArrivals(_ arrivals: inout ArrivalRanges, buffered: [Lead], urgent: Bool) async throws -> (
        all: Bool, retryDue: Bool
    ) {
        let done = arrivals.done(buffered: buffered.map(\.id).sorted())
        let read = try await database("arrivals", urgent: urgent) { [project] store in
            try await store.arrivals(project: project, deleting: done, limit: Self.arrivalsRead)
        }
        arrivals.forget(done)
        arrivals.add(read.rows)
        return (read.rows.count < Self.arrivalsRead, read.retryDue)
    }

    /// Never-tried leads inside the ranges left to scan, at most `want`, leaving out those
    /// the lane holds (two arrival rows' ranges may overlap: concurrent statements of one
    /// project interleave their ids). `read`: every never-tried lead inside the ranges, read
    /// by the lane's start; the answer is taken from them instead of the database.
    private func claimArrived(
        _ arrivals: inout ArrivalRanges, want: Int, buffered: [Lead], inFlight: [Int64: [Int64]], urgent: Bool,
        read: [Lead]? = nil
    ) async throws -> [Lead] {
        let intervals = arrivals.intervals(limit: Self.rangesPerClaim)
        guard !intervals.isEmpty, want > 0 else { return [] }
        func inside(_ id: Int64) -> Bool { intervals.contains { $0.lo <= id && id <= $0.hi } }
        var found: [Lead]
        if let read {
            // What `arrivedLeads` would answer: those inside the ranges, lowest first.
            found = Array(read.lazy.filter { inside($0.id) }.prefix(want))
        } else {
            let lows = intervals.map(\.lo)
            let highs = intervals.map(\.hi)
            found = try await database("claim", urgent: urgent) { [project] store in
                try await store.arrivedLeads(project: project, lows: lows, highs: highs, limit: want)
            }
        }
        var ascending = true
        for i in found.indices.dropFirst() where found[i - 1].id >= found[i].id {
            ascending = false
            break
        }
        if ascending {
            arrivals.scanned(intervals, ids: found.map(\.id), limit: want)
        } else if found.count < want {
            // Not in the ranges' order (never seen: the plan joins them in order): only a
            // short answer says how far was read.
            arrivals.scanned(intervals, ids: [], limit: want)
        }
        // Held leads inside the intervals read: drop them. Usually none (a backlog's held
        // leads lie below the range it reads), so the set is built only when one may be.
        var held = buffered.map(\.id).filter(inside)
        held += inFlight.values.joined().filter(inside)
        if !held.isEmpty {
            let drop = Set(held)
            found.removeAll { drop.contains($0.id) }
        }
        return found
    }

    /// docs/contract.md §3, last paragraph: what the API would reject for its data becomes `invalid`
    /// locally (no quota spent); of several leads with one phone the earliest wins. Never-tried
    /// leads' phones are claimed with their attempt (`phones`, `recordAttempt`) unless the
    /// project's claims met held phones lately; others' are claimed here.
    private func vet(_ leads: [Lead], phones: inout DeferredPhones, urgent: Bool) async throws -> [Lead] {
        // A claim comes back in id order; only one merged with retries or late leads needs sorting.
        let ordered = leads.idsAscend ? leads : leads.sorted(by: { $0.id < $1.id })
        var verdicts: [(leadId: Int64, verdict: LeadValidator.Verdict)] = []
        var passing: [Int] = []  // indices into `ordered`
        var keys: [String] = []
        var keyIds: [Int64] = []
        var firstWithKey: [String: Int64] = [:]
        passing.reserveCapacity(ordered.count)
        keys.reserveCapacity(ordered.count)
        keyIds.reserveCapacity(ordered.count)
        firstWithKey.reserveCapacity(ordered.count)
        for index in ordered.indices {
            let lead = ordered[index]
            if let verdict = LeadValidator.check(lead) {
                verdicts.append((lead.id, verdict))
                continue
            }
            if let key = lead.phoneKey {
                if let first = firstWithKey.updateValue(lead.id, forKey: key) {
                    firstWithKey[key] = first  // the earliest keeps it
                    verdicts.append((lead.id, Self.duplicate(of: first)))
                    continue
                }
                // Held by a lead of an earlier claim, as its claim in the database would say.
                if phones.holds(key) {
                    verdicts.append((lead.id, Self.duplicate(of: nil)))
                    continue
                }
                keys.append(key)
                keyIds.append(lead.id)
            }
            passing.append(index)
        }
        // Leads never tried hold no phone yet, as a rule: their claims go with their attempt,
        // without a probe. Only the cost depends on it; a held phone fails that attempt, and
        // the phones are judged here then (`recordAttempt`).
        if ordered.allSatisfy({ $0.attemptCount == 0 && !$0.ambiguous }) && store.defersPhoneClaims(project: project) {
            phones.add(keys: keys, leadIds: keyIds)
            try await markInvalid(verdicts, urgent: urgent)
            return passing.map { ordered[$0] }
        }
        let refused = try await refusedPhones(keys: keys, leadIds: keyIds, urgent: urgent)
        var accepted: [Lead] = []
        accepted.reserveCapacity(passing.count)
        for index in passing {
            let lead = ordered[index]
            if lead.phoneKey == nil || !refused.contains(lead.id) {
                accepted.append(lead)
            } else {
                verdicts.append((lead.id, Self.duplicate(of: nil)))
            }
        }
        try await markInvalid(verdicts, urgent: urgent)
        return accepted
    }

    /// Claims phones `keys` for `leadIds` the careful way (`LeadStore.refusedPhones`): the
    /// leads refused theirs, a phone an earlier live lead holds.
    private func refusedPhones(keys: [String], leadIds: [Int64], urgent: Bool) async throws -> Set<Int64> {
        try await database("phone claims", urgent: urgent) { [project] store in
            try await store.refusedPhones(project: project, keys: keys, leadIds: leadIds)
        }
    }

    /// What recording a batch's attempt came to.
    private enum Recorded {
        case recorded(Int64)
        case lockLost
        /// Leads refused their phone (invalid now): nothing recorded, the batch goes without them.
        case refused([Int64])
    }

    /// Records the attempt of `leads` (`ids`) with the arrival rows it finishes and the
    /// phones its leads wait to claim (`phones`). A phone held already fails that; the
    /// phones are judged then as `vet` judges others', the leads refused theirs become
    /// invalid and the batch is cut again without them, or, none refused, it is recorded
    /// without its phones (claimed by now).
    private func recordAttempt(
        _ leads: [Lead], ids: [Int64], doneArrivals: [Int64], phones: inout DeferredPhones, urgent: Bool
    ) async throws -> Recorded {
        let waiting = phones.claims(of: leads)
        func record(_ claims: (keys: [String], leadIds: [Int64])) async throws -> LeadStore.AttemptRecord {
            let attempt = LeadStore.NewAttempt(
                project: project, leadIds: ids, lock: lock, doneArrivals: doneArrivals, phones: claims)
            let write: GroupCommit<LeadStore.NewAttempt, LeadStore.AttemptRecord>.Write = { [configuration] group in
                try await database("recording the attempt", urgent: urgent) { store in
                    try await store.startAttempts(group, workerId: configuration.workerId, lease: configuration.lease)
                }
            }
            guard StatementGroups.groups(ids.count) else { return try await write([attempt])[0] }
            return try await groups.attempts.write(attempt, write)
        }
        var recorded = try await record(waiting)
        if recorded == .phoneHeld {
            let refused = try await refusedPhones(keys: waiting.keys, leadIds: waiting.leadIds, urgent: urgent)
            phones.remove(waiting.leadIds)
            if !refused.isEmpty {
                let sorted = refused.sorted()
                try await markInvalid(sorted.map { ($0, Self.duplicate(of: nil)) }, urgent: urgent)
                return .refused(sorted)
            }
            recorded = try await record(([], []))
        }
        switch recorded {
        case .recorded(let id):
            phones.remove(waiting.leadIds)
            return .recorded(id)
        case .lockLost, .phoneHeld:  // held: only with phones to claim, none the second time
            return .lockLost
        }
    }

    /// Leads the local pre-check refused: `invalid`, `source = local`, never sent.
    private func markInvalid(_ verdicts: [(leadId: Int64, verdict: LeadValidator.Verdict)], urgent: Bool)
        async throws
    {
        if !verdicts.isEmpty {
            try await database("marking invalid leads", urgent: urgent) { [project] store in
                try await store.markLocalInvalid(project: project, verdicts: verdicts)
            }
            progress.add(invalid: verdicts.count)
            for (reason, group) in Dictionary(grouping: verdicts, by: { $0.verdict.reason }) {
                WorkerMetrics.leads(project: project, state: .invalid, reason: reason.rawValue, count: group.count)
            }
            logger.info(
                "leads invalid by the local pre-check",
                metadata: ["project": "\(project)", "count": "\(verdicts.count)"])
        }
    }

    /// Cuts `batch` to the longest prefix whose body fits the byte budget and returns that
    /// body. The budget is the project's `max_request_bytes`, halved for a while after a
    /// 413; a first lead over the halved budget but within the configured one goes alone
    /// (a 413 then makes it invalid), one over the configured budget is invalid now
    /// (`local_lead_too_large`) and nil is returned.
    private func cutToBudget(
        _ batch: inout BatchPlanner.Batch, budget: Int, configured: Int, urgent: Bool
    ) async throws -> [UInt8]? {
        var (body, count) = RequestBody.encode(batch, maxBytes: budget)
        if count == 0 {
            let first = batch.leads[0]
            if let verdict = RequestBody.tooLargeAlone(first, maxBytes: configured) {
                try await markInvalid([(first.id, verdict)], urgent: urgent)
                return nil
            }
            let alone = BatchPlanner.Batch(mode: batch.mode, initialize: batch.initialize, leads: [first])
            (body, count) = RequestBody.encode(alone, maxBytes: configured)
        }
        if count < batch.leads.count { batch.leads.removeSubrange(count...) }
        return body
    }

    static func duplicate(of first: Int64?) -> LeadValidator.Verdict {
        LeadValidator.Verdict(
            reason: .localDuplicate,
            message: first.map { "same phone as lead \($0), which is earlier" }
                ?? "same phone as an earlier lead of this project that is pending or submitted")
    }

    /// One request: send, decide (docs/contract.md §3), tell the limiter and the lane, write
    /// back until it sticks.
    private func send(
        _ batch: BatchPlanner.Batch, body: [UInt8], attemptId: Int64, token: String, settings: ProjectSettings,
        byteBudget: Int, urgent: Bool, mailbox: LaneMailbox
    ) async {
        let clock = ContinuousClock()
        let exchange = await client.send(batch: batch, body: body, token: token, logger: logger)
        progress.add(.http, exchange.duration - exchange.classifyDuration)
        progress.add(.classify, exchange.classifyDuration)
        // One jitter for the whole request: its leads come due together and go out as one
        // batch again instead of trickling out in small requests that waste the rate limit.
        let jitter = Double.random(in: 0..<1)
        let plan = OutcomePlanner.plan(
            answer: exchange.answer, leads: batch.leads,
            context: .init(
                maxAttempts: settings.maxAttempts, currentBatchSize: min(settings.maxBatchSize, batch.leads.count),
                random: { _ in jitter }))

        // The lane looks for retries again when these come due.
        let delays = plan.changes.compactMap { change -> Duration? in
            if case .requeue(let delay, _) = change.change { return delay }
            return nil
        }
        var retriesDue: [ContinuousClock.Instant] = []
        if let soonest = delays.min(), let latest = delays.max() {
            let now = clock.now
            retriesDue.append(now + soonest)
            if latest > soonest { retriesDue.append(now + latest) }
        }

        switch plan.project {
        case .rateLimited(let retryAfter):
            limiter.value.withLock { $0.rateLimited(now: clock.now, retryAfter: retryAfter) }
            logger.warning(
                "rate limited by Uservox; backing off",
                metadata: [
                    "project": "\(project)", "attempt": "\(attemptId)",
                    "retry_after_s": "\(retryAfter.map { "\($0.secondsValue)" } ?? "none")",
                ])
        case .pause(let reason, let message):
            limiter.value.withLock { $0.succeeded() }
            logger.error(
                "project paused by the API's answer; its leads are held until it is resumed",
                metadata: ["project": "\(project)", "reason": "\(reason.rawValue)", "message": "\(message)"])
        case .shrinkBatch(let size):
            limiter.value.withLock { $0.succeeded() }
            logger.warning(
                "batch too large for Uservox; lowering the batch size",
                metadata: ["project": "\(project)", "max_batch_size": "\(size)"])
        case .shrinkRequestBytes:
            limiter.value.withLock { $0.succeeded() }
            logger.warning(
                "request body too large for Uservox (413); halving the byte budget for a while",
                metadata: ["project": "\(project)", "bytes": "\(body.count)", "budget": "\(byteBudget)"])
        case .none:
            limiter.value.withLock { $0.succeeded() }
        }
        mailbox.post(.answerPlanned(project: plan.project, retriesDue: retriesDue))

        let writeBackStarted = clock.now
        let written = await writeBack(
            plan, attemptId: attemptId, httpStatus: exchange.httpStatus, leads: batch.leads, urgent: urgent)
        progress.add(.writeBack, clock.now - writeBackStarted)
        guard written else {
            mailbox.post(.writeBackFailed)
            return
        }
        health.progressed()
        record(plan, attemptId: attemptId, duration: exchange.duration, status: exchange.httpStatus)
    }

    /// Writes one answer back, and never holds its request slot forever: `WriteBackRetry`
    /// decides after each failure. False when nothing could be written in time: the
    /// attempt stays open, the lane ends, and the sweep recovers the attempt once its lease
    /// runs out (its leads are then resent, flagged ambiguous).
    private func writeBack(
        _ plan: OutcomePlanner.Plan, attemptId: Int64, httpStatus: Int?, leads: [Lead], urgent: Bool
    ) async -> Bool {
        let clock = ContinuousClock()
        var retry = WriteBackRetry(
            startedAt: clock.now, patience: max(configuration.lease, configuration.writeBackPatience))
        while true {
            do {
                let stillOpen: Bool
                if let why = retry.unstorable {
                    let ids = leads.map(\.id)
                    stillOpen = try await database("write-back", urgent: urgent) { store in
                        try await store.closeUnstorable(
                            attemptId: attemptId, leadIds: ids, why: why, delay: .seconds(30))
                    }
                } else if StatementGroups.groups(leads.count),
                    let accepted = LeadStore.AcceptedWriteBack(attemptId: attemptId, httpStatus: httpStatus, plan: plan)
                {
                    stillOpen = try await groups.writeBacks.write(accepted) { group in
                        let written = try await database("write-back", urgent: urgent) { store in
                            try await store.finishAllAccepted(group)
                        }
                        return group.map { written.contains($0.attemptId) }
                    }
                } else {
                    stillOpen = try await database("write-back", urgent: urgent) { [project] store in
                        try await store.writeBack(
                            project: project, attemptId: attemptId, httpStatus: httpStatus, plan: plan)
                    }
                }
                if !stillOpen {
                    logger.warning(
                        "the attempt is gone (pruned?); its answer was not written",
                        metadata: ["project": "\(project)", "attempt": "\(attemptId)"])
                }
                return true
            } catch {
                let why = StoreError.from(error, doing: "write-back")
                switch retry.failed(
                    transient: error is TimedOut || StoreError.isTransient(error), why: "\(why)",
                    cancelled: Task.isCancelled, now: clock.now)
                {
                case .closeUnstorable:
                    logger.error(
                        "write-back refused by the database; closing the attempt, its leads retried as ambiguous",
                        metadata: ["project": "\(project)", "attempt": "\(attemptId)", "error": "\(why)"])
                case .giveUp:
                    logger.error(
                        "write-back failed for longer than the lease; the sweep recovers the attempt",
                        metadata: ["project": "\(project)", "attempt": "\(attemptId)", "error": "\(why)"])
                    return false
                case .retry(let delay):
                    logger.error(
                        "write-back failed; retrying",
                        metadata: ["project": "\(project)", "attempt": "\(attemptId)", "error": "\(why)"])
                    try? await Task.sleep(for: delay)
                    try? await configuration.bounded("renewing the lease") { [store, configuration] in
                        try await store.renewLease(attemptId: attemptId, lease: configuration.lease)
                    }
                }
            }
        }
    }

    /// One database call of the lane, bounded like every one (`WorkerConfiguration.bounded`);
    /// on a reserved connection when the state machine calls the lane latency-sensitive
    /// (`LaneStateMachine.latencySensitive`, `LeadStore.reserving`).
    private func database<T: Sendable>(
        _ what: String, urgent: Bool, _ call: @escaping @Sendable (LeadStore) async throws -> T
    ) async throws -> T {
        try await configuration.bounded(what) { [store] in try await store.reserving(urgent, call) }
    }

    private func record(_ plan: OutcomePlanner.Plan, attemptId: Int64, duration: Duration, status: Int?) {
        var submitted = 0
        var invalid: [String: Int] = [:]
        var held: [String: Int] = [:]
        var requeued = 0
        for change in plan.changes {
            switch change.change {
            case .submitted: submitted += 1
            case .invalid(let reason, _): invalid[reason.rawValue, default: 0] += 1
            case .held(let reason, _): held[reason.rawValue, default: 0] += 1
            case .requeue: requeued += 1
            }
        }
        WorkerMetrics.request(project: project, outcome: plan.outcome, duration: duration)
        WorkerMetrics.leads(project: project, state: .submitted, reason: nil, count: submitted)
        for (reason, count) in invalid {
            WorkerMetrics.leads(project: project, state: .invalid, reason: reason, count: count)
        }
        for (reason, count) in held {
            WorkerMetrics.leads(project: project, state: .held, reason: reason, count: count)
        }
        progress.add(
            submitted: submitted, invalid: invalid.values.reduce(0, +), held: held.values.reduce(0, +),
            requeued: requeued)
        let level: Logger.Level = plan.outcome.isAnswered ? .info : .warning
        logger.log(
            level: level, "request finished",
            metadata: [
                "project": "\(project)", "attempt": "\(attemptId)", "outcome": "\(plan.outcome.rawValue)",
                "http_status": "\(status.map(String.init) ?? "none")", "leads": "\(plan.changes.count)",
                "submitted": "\(submitted)", "invalid": "\(invalid.values.reduce(0, +))",
                "held": "\(held.values.reduce(0, +))", "requeued": "\(requeued)",
                "duration_ms": "\(duration.millisecondsValue)",
            ].merging(plan.error.map { ["error": "\($0)"] } ?? [:]) { a, _ in a })
    }

    private func updateLimiter(_ settings: ProjectSettings) {
        limiter.value.withLock {
            $0.update(settings: .init(requests: settings.rateLimitRequests, window: settings.rateLimitWindow))
        }
    }

    /// A project taken over from another worker: its recent starts count toward the window.
    /// Starts read after this process took the project are its own, already counted.
    private func seedLimiterIfNeeded(_ settings: ProjectSettings, recentStarts ago: [Double]) {
        updateLimiter(settings)
        guard limiter.seeded.withLock({ !$0 }) else { return }
        let now = ContinuousClock.now
        limiter.value.withLock { limiter in
            limiter.seed(starts: ago.map { now - .milliseconds(Int64($0 * 1000)) })
        }
        limiter.seeded.withLock { $0 = true }
    }
}

extension ProjectLane {
    /// The ids of `buffer` (ascending) other than `sent`'s: what stays buffered once they
    /// are recorded.
    static func left(_ buffer: [Lead], after sent: [Int64]) -> [Int64] {
        // Usually all of it goes.
        if buffer.count == sent.count { return [] }
        let gone = Set(sent)
        return buffer.lazy.map(\.id).filter { !gone.contains($0) }
    }
}

extension [Lead] {
    /// Whether the ids ascend (a claim's own order).
    fileprivate var idsAscend: Bool {
        var previous = Int64.min
        for lead in self {
            if lead.id < previous { return false }
            previous = lead.id
        }
        return true
    }
}
