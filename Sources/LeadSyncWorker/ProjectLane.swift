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

/// What a lane's in-flight requests tell the lane loop.
final class LaneSignals: Sendable {
    private struct State {
        var paused = false
        var batchSize: Int?
        /// When leads this lane put back for a retry come due.
        var retriesDue: [ContinuousClock.Instant] = []
        /// Halvings of the byte budget in force after 413s, and good requests since.
        var byteHalvings = 0
        var goodSinceHalving = 0
        /// A write-back that could not be done: the lane ends (see `ProjectLane.writeBack`).
        var gaveUp = false
    }
    private let state = Mutex(State())

    func retry(at instant: ContinuousClock.Instant) { state.withLock { $0.retriesDue.append(instant) } }
    /// Whether a retry noted with `retry(at:)` has come due since the last call.
    func retryCameDue(now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            let before = state.retriesDue.count
            state.retriesDue.removeAll { $0 <= now }
            return state.retriesDue.count < before
        }
    }

    func pause() { state.withLock { $0.paused = true } }
    var paused: Bool { state.withLock { $0.paused } }
    func shrinkBatch(to size: Int) { state.withLock { $0.batchSize = min($0.batchSize ?? size, size) } }
    var batchSize: Int? { state.withLock { $0.batchSize } }

    /// docs/contract.md §3: a 413 halves the byte budget for a while; every
    /// `goodRequestsPerRestore` requests that pass give one halving back. The configured
    /// `max_request_bytes` itself never changes.
    static let goodRequestsPerRestore = 10
    func shrinkBytes() {
        state.withLock {
            $0.byteHalvings = min($0.byteHalvings + 1, 20)
            $0.goodSinceHalving = 0
        }
    }
    func requestPassed() {
        state.withLock {
            guard $0.byteHalvings > 0 else { return }
            $0.goodSinceHalving += 1
            if $0.goodSinceHalving >= Self.goodRequestsPerRestore {
                $0.byteHalvings -= 1
                $0.goodSinceHalving = 0
            }
        }
    }
    func byteBudget(configured: Int) -> Int { configured >> state.withLock { $0.byteHalvings } }

    func giveUp() { state.withLock { $0.gaveUp = true } }
    var gaveUp: Bool { state.withLock { $0.gaveUp } }
}

/// Serves one project while this worker holds its lock: claims ready leads oldest first,
/// pre-checks them, cuts batches, waits for the rate limiter, records each attempt before
/// sending, keeps up to `max_in_flight` requests out, and writes every answer back.
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
    let health: WorkerHealth
    let logger: Logger
    /// False once the lock session is lost or a graceful shutdown began: stop starting requests.
    let mayStart: @Sendable () -> Bool

    enum Exit: Sendable, Equatable {
        /// `writeBackFailed`: an answer could not be written back in time; its attempt stays
        /// open until the sweep recovers it, and the next lane waits for that.
        case drained, paused, tokenMissing, stopped, lockLost, writeBackFailed
    }

    func run() async throws -> Exit {
        let clock = ContinuousClock()
        guard
            var settings = try await configuration.bounded(
                "project settings", { [store, project] in try await store.project(project) })
        else { return .drained }
        if settings.paused { return .paused }

        // Requests another worker (or this one's lost lock session) still has out there
        // must end, or expire and be recovered by the sweep, before this lane sends.
        while try await configuration.bounded(
            "open attempts", { [store, project] in try await store.openAttempts(project: project) })
            > 0
        {
            guard mayStart() else { return .stopped }
            health.progressed()  // a known wait, bounded by the lease
            try await Task.sleep(for: .milliseconds(250))
        }
        try await seedLimiterIfNeeded(settings)

        let signals = LaneSignals()
        var exit = Exit.drained
        // A query of the loop that fails ends the lane, but never cancels requests already
        // sent: they finish and are written back first (docs/contract.md §3.5).
        var failure: (any Error)?
        try await withThrowingTaskGroup(of: Int64.self) { group in
            // Leads out in each request, by attempt: never claimed again while there.
            var inFlight: [Int64: [Int64]] = [:]
            // Leads put back for a retry are looked for when this lane's come due, now
            // and then (the gap scan's rhythm) for anyone else's, and until none is found.
            var lookForRetries = true
            var running = 0
            var buffer: [Lead] = []
            var cursor: Int64 = 0
            var lastGapScan = clock.now
            var lastSettings = clock.now
            var finalScanDone = false
            var idleSince: ContinuousClock.Instant?
            var expectWork = true
            var holdsSlot = false
            func giveBackSlot() {
                if holdsSlot { slots.release() }
                holdsSlot = false
            }
            defer { giveBackSlot() }  // a lane that throws

            do {
                loop: while true {
                    guard mayStart() else {
                        exit = .stopped
                        break
                    }
                    if signals.paused {
                        exit = .paused
                        break
                    }
                    if signals.gaveUp {
                        exit = .writeBackFailed
                        break
                    }
                    if clock.now - lastSettings > .seconds(1) {
                        settings =
                            try await configuration.bounded(
                                "project settings", { [store, project] in try await store.project(project) })
                            ?? settings
                        lastSettings = clock.now
                        updateLimiter(settings)
                        if settings.paused {
                            exit = .paused
                            break
                        }
                    }
                    guard let token = tokens.token(for: project) else {
                        exit = .tokenMissing
                        break
                    }
                    let batchSize = min(settings.maxBatchSize, signals.batchSize ?? .max)

                    while running >= settings.maxInFlight, let done = try await group.next() {
                        inFlight[done] = nil
                        running -= 1
                    }
                    // An answer that came back meanwhile may have paused the project.
                    if signals.paused {
                        exit = .paused
                        break
                    }

                    // A busy lane waits for its turn (the project's rate limit, then a
                    // worker-wide slot) before it claims, so only lanes about to send hold
                    // leads in memory, and leads that arrive meanwhile go along. A lane that
                    // has caught up looks without a slot.
                    if expectWork && !holdsSlot {
                        if try await waitForRateLimit(clock: clock) { continue }
                        await slots.acquire()
                        holdsSlot = true
                    }

                    if buffer.count < batchSize {
                        let scanGaps = clock.now - lastGapScan >= configuration.gapScanInterval
                        if scanGaps { lastGapScan = clock.now }
                        let claimStarted = clock.now
                        let retries = lookForRetries || scanGaps || signals.retryCameDue(now: clock.now)
                        let (claimed, retriesFound) = try await claim(
                            cursor: &cursor, want: batchSize, scanGaps: scanGaps, retries: retries,
                            held: { inFlight.values.flatMap { $0 } + buffer.map(\.id) })
                        lookForRetries = retriesFound > 0
                        expectWork = claimed.count >= batchSize
                        if !claimed.isEmpty {
                            progress.add(.claim, clock.now - claimStarted)
                            let vetStarted = clock.now
                            let vetted = try await vet(claimed)  // in id order
                            buffer = buffer.isEmpty ? vetted : (buffer + vetted).sorted { $0.id < $1.id }
                            progress.add(.vet, clock.now - vetStarted)
                            finalScanDone = false
                        }
                    }

                    if buffer.isEmpty {
                        giveBackSlot()
                        if running > 0 {
                            if let done = try await group.next() {
                                inFlight[done] = nil
                                running -= 1
                            }
                            continue
                        }
                        // Before idling, look once more below the cursor for late commits.
                        if !finalScanDone {
                            finalScanDone = true
                            lastGapScan = clock.now - configuration.gapScanInterval
                            continue
                        }
                        health.progressed()  // caught up
                        if configuration.once { break loop }
                        // Idle: keep the project (and the lock) for a while, so the next
                        // notification of this project is served at once, then let it go.
                        let since = idleSince ?? clock.now
                        idleSince = since
                        if clock.now - since >= configuration.idleLinger { break loop }
                        await wake.wait(timeout: configuration.sweepInterval)
                        if !wake.take().projects.isEmpty { expectWork = true }
                        continue
                    }
                    idleSince = nil
                    if !holdsSlot {
                        // Found by looking: now wait for the turn, and fill the batch up then.
                        expectWork = true
                        continue
                    }

                    guard mayStart(), var batch = BatchPlanner.nextBatch(from: buffer, maxBatchSize: batchSize) else {
                        if !mayStart() { exit = .stopped }
                        break
                    }
                    // Bounded by bytes as well as by count (docs/contract.md §4).
                    let encodeStarted = clock.now
                    guard let body = try await cutToBudget(&batch, settings: settings, signals: signals) else {
                        // Its first lead alone is over `max_request_bytes`: now invalid, out of the buffer.
                        let tooLarge = batch.leads[0].id
                        buffer.removeAll { $0.id == tooLarge }
                        continue
                    }
                    progress.add(.encode, clock.now - encodeStarted)
                    let ids = batch.leads.map(\.id)
                    let taken = Set(ids)
                    // Usually all of it went: then let its storage go too, or every lane would
                    // keep a batch-sized array while it waits for its turn.
                    if taken.count == buffer.count { buffer = [] } else { buffer.removeAll { taken.contains($0.id) } }
                    limiter.value.withLock { $0.recordStart(at: clock.now) }

                    let recordStarted = clock.now
                    let recorded = try await configuration.bounded("recording the attempt") {
                        [store, project, configuration, lock] in
                        try await store.startAttempt(
                            project: project, workerId: configuration.workerId, leadIds: ids,
                            lease: configuration.lease,
                            lock: lock)
                    }
                    progress.add(.record, clock.now - recordStarted)
                    guard let attemptId = recorded else {
                        logger.warning("project lock lost; stopping this project", metadata: ["project": "\(project)"])
                        exit = .lockLost
                        break
                    }
                    inFlight[attemptId] = ids
                    running += 1
                    let current = settings
                    // The slot goes with the request; its task gives it back.
                    holdsSlot = false
                    group.addTask {
                        await self.send(
                            batch, body: body, attemptId: attemptId, token: token, settings: current, signals: signals)
                        self.slots.release()
                        return attemptId
                    }
                }
            } catch {
                failure = error
            }
            giveBackSlot()
            // In-flight requests finish and are written back before the lane ends.
            while let done = try await group.next() {
                inFlight[done] = nil
            }
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

    /// SPEC §4: never more starts in a window than the project allows. Sleeps until the
    /// next start is allowed; true when it slept (the caller looks at everything again).
    private func waitForRateLimit(clock: ContinuousClock) async throws -> Bool {
        let now = clock.now
        let earliest = limiter.value.withLock { $0.earliestStart(now: now) }
        guard earliest > now else { return false }
        health.progressed()  // a known wait, at most the longest back-off (60 s)
        WorkerMetrics.rateLimitWait(project: project, duration: earliest - now)
        try await Task.sleep(until: earliest, clock: clock)
        return true
    }

    /// Ready leads not already buffered or in flight (`held`): new ones after the cursor;
    /// with `retries`, those put back for a retry whose time has come; with `scanGaps`, new
    /// ones below the cursor that committed late. Also says how many retries it found.
    private func claim(
        cursor: inout Int64, want: Int, scanGaps: Bool, retries: Bool, held: () -> [Int64]
    ) async throws -> (leads: [Lead], retries: Int) {
        // Gaps lie below what was read before; the leads read just now are not gaps. New
        // leads after the cursor are never buffered or in flight: no filtering needed.
        let gapTop = cursor
        let after = cursor
        var found = try await configuration.bounded("claim") { [store, project] in
            try await store.newLeads(project: project, afterId: after, limit: want)
        }
        if let last = found.last { cursor = max(cursor, last.id) }
        let scanGaps = scanGaps && gapTop > 0
        guard retries || scanGaps else { return (found, 0) }

        let exclude = held()
        var due: [Lead] = []
        if retries {
            due = try await configuration.bounded("claim retries") { [store, project] in
                try await store.leads(LeadQueries.claimDueRetries(project: project, except: exclude, limit: want))
            }
        }
        var late: [Lead] = []
        if scanGaps {
            late = try await configuration.bounded("gap scan") { [store, project] in
                try await store.leads(
                    LeadQueries.claimGaps(project: project, upToId: gapTop, except: exclude, limit: want))
            }
        }
        if !due.isEmpty || !late.isEmpty {
            // A lead that changed between the queries could be in two of them.
            var seen = Set(found.map(\.id))
            for lead in due + late where seen.insert(lead.id).inserted { found.append(lead) }
        }
        return (found, due.count)
    }

    /// docs/contract.md §3, last paragraph: what the API would reject for its data becomes `invalid`
    /// locally (no quota spent); of several leads with one phone the earliest wins.
    private func vet(_ leads: [Lead]) async throws -> [Lead] {
        var verdicts: [(leadId: Int64, verdict: LeadValidator.Verdict)] = []
        var passing: [(lead: Lead, key: String?)] = []
        var keys: [String] = []
        var keyIds: [Int64] = []
        var firstWithKey: [String: Int64] = [:]
        for lead in leads.sorted(by: { $0.id < $1.id }) {
            if let verdict = LeadValidator.check(lead) {
                verdicts.append((lead.id, verdict))
                continue
            }
            let key = lead.phoneKey
            if let key {
                if let first = firstWithKey[key] {
                    verdicts.append((lead.id, Self.duplicate(of: first)))
                    continue
                }
                firstWithKey[key] = lead.id
                keys.append(key)
                keyIds.append(lead.id)
            }
            passing.append((lead, key))
        }
        let holders = try await configuration.bounded("phone claims") { [store, project, keys, keyIds] in
            try await store.claimPhones(project: project, keys: keys, leadIds: keyIds)
        }
        var accepted: [Lead] = []
        accepted.reserveCapacity(passing.count)
        for (lead, key) in passing {
            if key == nil || holders.contains(lead.id) {
                accepted.append(lead)
            } else {
                verdicts.append((lead.id, Self.duplicate(of: nil)))
            }
        }
        try await markInvalid(verdicts)
        return accepted
    }

    /// Leads the local pre-check refused: `invalid`, `source = local`, never sent.
    private func markInvalid(_ verdicts: [(leadId: Int64, verdict: LeadValidator.Verdict)]) async throws {
        if !verdicts.isEmpty {
            try await configuration.bounded("marking invalid leads") { [store, project] in
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
        _ batch: inout BatchPlanner.Batch, settings: ProjectSettings, signals: LaneSignals
    ) async throws -> [UInt8]? {
        let budget = signals.byteBudget(configured: settings.maxRequestBytes)
        var (body, count) = RequestBody.encode(batch, maxBytes: budget)
        if count == 0 {
            let first = batch.leads[0]
            if let verdict = RequestBody.tooLargeAlone(first, maxBytes: settings.maxRequestBytes) {
                try await markInvalid([(first.id, verdict)])
                return nil
            }
            let alone = BatchPlanner.Batch(mode: batch.mode, initialize: batch.initialize, leads: [first])
            (body, count) = RequestBody.encode(alone, maxBytes: settings.maxRequestBytes)
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

    /// One request: send, decide (docs/contract.md §3), tell the limiter, write back until it sticks.
    private func send(
        _ batch: BatchPlanner.Batch, body: [UInt8], attemptId: Int64, token: String, settings: ProjectSettings,
        signals: LaneSignals
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
        if let soonest = delays.min(), let latest = delays.max() {
            let now = clock.now
            signals.retry(at: now + soonest)
            if latest > soonest { signals.retry(at: now + latest) }
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
            signals.pause()
            logger.error(
                "project paused by the API's answer; its leads are held until it is resumed",
                metadata: ["project": "\(project)", "reason": "\(reason.rawValue)", "message": "\(message)"])
        case .shrinkBatch(let size):
            limiter.value.withLock { $0.succeeded() }
            signals.shrinkBatch(to: size)
            logger.warning(
                "batch too large for Uservox; lowering the batch size",
                metadata: ["project": "\(project)", "max_batch_size": "\(size)"])
        case .shrinkRequestBytes:
            limiter.value.withLock { $0.succeeded() }
            signals.shrinkBytes()
            logger.warning(
                "request body too large for Uservox (413); halving the byte budget for a while",
                metadata: [
                    "project": "\(project)", "bytes": "\(body.count)",
                    "budget": "\(signals.byteBudget(configured: settings.maxRequestBytes))",
                ])
        case .none:
            limiter.value.withLock { $0.succeeded() }
            signals.requestPassed()
        }

        let writeBackStarted = clock.now
        let written = await writeBack(plan, attemptId: attemptId, httpStatus: exchange.httpStatus, leads: batch.leads)
        progress.add(.writeBack, clock.now - writeBackStarted)
        guard written else {
            signals.giveUp()
            return
        }
        health.progressed()
        record(plan, attemptId: attemptId, duration: exchange.duration, status: exchange.httpStatus)
    }

    /// Writes one answer back, and never holds its request slot forever. Transient
    /// failures (the database away, a conflict, a timeout) are retried with back-off,
    /// renewing the attempt's lease, for `writeBackPatience` (or until the worker stops).
    /// A permanent one (data the database refuses) closes the attempt as unstorable: its
    /// leads back to pending, ambiguous. False when nothing could be written in time: the
    /// attempt stays open, the lane ends, and the sweep recovers the attempt once its lease
    /// runs out (its leads are then resent, flagged ambiguous).
    private func writeBack(
        _ plan: OutcomePlanner.Plan, attemptId: Int64, httpStatus: Int?, leads: [Lead]
    ) async -> Bool {
        let clock = ContinuousClock()
        let giveUpAt = clock.now + max(configuration.lease, configuration.writeBackPatience)
        var delay = Duration.milliseconds(200)
        var unstorable: String?
        while true {
            do {
                let stillOpen: Bool
                if let why = unstorable {
                    let ids = leads.map(\.id)
                    stillOpen = try await configuration.bounded("write-back") { [store] in
                        try await store.closeUnstorable(
                            attemptId: attemptId, leadIds: ids, why: why, delay: .seconds(30))
                    }
                } else {
                    stillOpen = try await configuration.bounded("write-back") { [store, project] in
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
                if unstorable == nil && !(error is TimedOut) && !StoreError.isTransient(error) {
                    unstorable = "the answer could not be stored (\(why)); outcome unknown"
                    logger.error(
                        "write-back refused by the database; closing the attempt, its leads retried as ambiguous",
                        metadata: ["project": "\(project)", "attempt": "\(attemptId)", "error": "\(why)"])
                    continue
                }
                guard clock.now + delay < giveUpAt, !Task.isCancelled else {
                    logger.error(
                        "write-back failed for longer than the lease; the sweep recovers the attempt",
                        metadata: ["project": "\(project)", "attempt": "\(attemptId)", "error": "\(why)"])
                    return false
                }
                logger.error(
                    "write-back failed; retrying",
                    metadata: ["project": "\(project)", "attempt": "\(attemptId)", "error": "\(why)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
                try? await configuration.bounded("renewing the lease") { [store, configuration] in
                    try await store.renewLease(attemptId: attemptId, lease: configuration.lease)
                }
            }
        }
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
        let level: Logger.Level =
            plan.outcome == .ok || plan.outcome == .partial || plan.outcome == .rejected ? .info : .warning
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
    private func seedLimiterIfNeeded(_ settings: ProjectSettings) async throws {
        updateLimiter(settings)
        guard limiter.seeded.withLock({ !$0 }) else { return }
        let ago = try await configuration.bounded("recent starts") { [store, project] in
            try await store.recentStarts(project: project, within: settings.rateLimitWindow)
        }
        let now = ContinuousClock.now
        limiter.value.withLock { limiter in
            limiter.seed(starts: ago.map { now - .milliseconds(Int64($0 * 1000)) })
        }
        limiter.seeded.withLock { $0 = true }
    }
}
