import LeadSyncCore
import LeadSyncStore

/// Why a lane ended.
enum LaneExit: Sendable, Equatable {
    /// `writeBackFailed`: an answer could not be written back in time; its attempt stays
    /// open until the sweep recovers it, and the next lane waits for that.
    /// `tokenMissing`: the lane holds the project's pending leads before it ends.
    case drained, paused, tokenMissing, stopped, lockLost, writeBackFailed
}

/// Every decision of a project lane, with no I/O and no clock of its own, so each can be
/// tested alone: `ProjectLane` performs the action the machine answers with and reports
/// what came of it (and what its requests reported meanwhile) as events. Generic over the
/// instant so tests drive it with made-up times.
///
/// One round, in this order (docs/operating.md §6): stop, pause and a given-up write-back
/// end the lane; the project's row is read again each second before a claim that may send
/// (a pause, new limits); no
/// token ends the lane; at most `max_in_flight` requests out (finished ones are counted
/// until the lane has collected them); a busy lane waits for the project's rate limit
/// (a lane that has caught up and had to wait for it also waits, briefly, for the next
/// lead to arrive), then a worker-wide slot, before it claims; one claim (new leads, retries when due, gap
/// scans now and then); then one batch sent, or, with nothing buffered, the slot given
/// back, one request out collected, a final gap scan, and idling. A lane that caught up
/// and sent all it held collects its request (or wakes for the next lead) before it looks
/// again, and then looks once, the final gap scan.
///
/// The database sees exactly what the loop this replaced asked, at the same moments: the
/// bench's claims, gap scans and their excluded ids are the same (docs/performance.md).
struct LaneStateMachine<Instant: InstantProtocol & Sendable>: Sendable where Instant.Duration == Duration {
    struct Configuration: Sendable, Equatable {
        var once: Bool
        var gapScanInterval: Duration
        var idleLinger: Duration
        var sweepInterval: Duration
        /// How often the project's row is read again (a pause, new limits).
        var settingsInterval: Duration = .seconds(1)
        /// Whether a lane that caught up waits for company once its turn has come (`companyWait`).
        var awaitsCompany = true
    }

    enum Event: Sendable {
        /// The lock session is lost or a graceful shutdown began: start nothing more.
        case shutdown
        /// Whether the tokens file has a token for the project (reported before each step).
        case tokensChanged(present: Bool)
        /// Whether the dispatcher lets an idle lane keep its project (reported before each
        /// step): not while other projects wait for a lane, nor beyond a few lanes
        /// (`LaneBudget`): each lingering lane looks for work every sweep interval.
        case lingerAllowed(Bool)
        /// The project's row as read now (`readSettings`); nil when it is gone (the last one
        /// stays). A pause set by an operator is seen here.
        case settingsRead(ProjectSettings?)
        /// The project's rate limiter's earliest allowed start (`checkRateLimit`).
        case rateLimitChecked(earliestStart: Instant)
        /// The sleep for the rate limit's window is over.
        case windowOpened
        /// The wait for company (`awaitCompany`) ended: a lead of the project arrived (a
        /// notification), or the deadline passed.
        case companyWaitEnded
        case slotGranted
        /// The claim's leads that passed the pre-check (in id order), how many were claimed,
        /// how many of them were retries, and the next cursor (the highest new id read).
        case claimed(vetted: [Lead], claimed: Int, retriesFound: Int, cursor: Int64)
        /// The idle wait ended; `notified` when a notification named the project.
        case woken(notified: Bool)
        /// Leads of the batch are invalid now and do not go: its first lead alone is over
        /// `max_request_bytes`, or phones claimed with the attempt were held by earlier
        /// leads (nothing was recorded then).
        case leadsRefused([Int64])
        /// The batch (cut to the byte budget) is recorded as an attempt and its request is
        /// out, with the lane's slot.
        case sent(attemptId: Int64, leadIds: [Int64])
        /// Recording an attempt found the project's lock gone.
        case lockLost
        /// A request's answer, planned (docs/contract.md §3): how the project reacts, and
        /// when its requeued leads come due (the soonest and, when later, the latest).
        case answerPlanned(project: OutcomePlanner.ProjectAction, retriesDue: [Instant])
        /// A request's write-back could not be done in time: the lane ends.
        case writeBackFailed
        /// The lane collected a finished request (its answer written back, or given up):
        /// its leads are no longer excluded from claims, and it no longer counts as out.
        /// Nil when no request was out.
        case writeBackDone(attemptId: Int64?)
    }

    enum Action: Sendable, Equatable {
        /// Read the project's row: `settingsRead`.
        case readSettings
        /// Ask the project's rate limiter for its earliest start: `rateLimitChecked`.
        case checkRateLimit
        /// docs/contract.md §4: no start before then: `windowOpened`.
        case sleep(until: Instant)
        /// Forget notifications already seen, then wait for the next one, at most until
        /// `until`: `companyWaitEnded`.
        case awaitCompany(until: Instant)
        /// A worker-wide request slot: `slotGranted`. Lanes that have caught up (and send
        /// what just arrived), then lanes that have not claimed yet, go before lanes
        /// draining a backlog (`RequestSlots`).
        case acquireSlot(RequestSlots.Priority)
        /// Give the lane's slot back, then ask for the next action.
        case releaseSlot
        /// New leads after `afterId`; due retries when `retries`; late commits at or below
        /// `afterId` when `scanGaps`; never the leads in `exclude` (buffered or out):
        /// `claimed`. (`ProjectLane` finds new leads through the project's arrival rows, and
        /// reads those again when `scanGaps`: migration 0011.) `lastLook`: the look before
        /// idling, with no retry of the lane's own come due; the lane may know its answer
        /// without asking (nothing, when nothing arrived since a look that saw everything).
        case claim(afterId: Int64, want: Int, scanGaps: Bool, retries: Bool, exclude: [Int64], lastLook: Bool = false)
        /// Collect one request out, waiting for it to finish: `writeBackDone`.
        case waitForRequest
        /// Wait for a notification of the project, at most `timeout`: `woken`.
        case waitForWork(timeout: Duration)
        /// Wait for a request out to end or a notification of the project, at most
        /// `timeout`: `writeBackDone` (the request collected) or `woken`.
        case waitForRequestOrWork(timeout: Duration)
        /// Cut `batch` to `byteBudget` bytes (docs/contract.md §4), record the attempt and send
        /// it: `sent`, `leadsRefused` or `lockLost`.
        case send(BatchPlanner.Batch, byteBudget: Int)
        /// Give the project up; requests still out finish and are written back first.
        case finish(LaneExit)
    }

    /// docs/contract.md §3: a 413 halves the byte budget for a while; every
    /// `goodRequestsPerRestore` requests that pass give one halving back. The configured
    /// `max_request_bytes` itself never changes.
    static var goodRequestsPerRestore: Int { 10 }

    /// Where the round stands: each waiting stage is answered by one event.
    private enum Stage: Equatable {
        case top
        case readingSettings
        case settingsKnown
        /// At most `max_in_flight` out: collects requests until there is room.
        case inFlightCap
        case checkingRateLimit
        case sleeping(until: Instant)
        case awaitingCompany(until: Instant)
        case acquiringSlot
        case claimStep
        /// The claim asked for (`claim`), kept to be asked again unchanged.
        case claiming(want: Int, Action)
        case afterClaim
        /// Nothing buffered: one request out is collected before looking again.
        case collecting
        /// The same for a lane that has caught up, unless a lead arrives first.
        case collectingOrWoken
        case idle
        case sending(BatchPlanner.Batch, byteBudget: Int)
        case finished(LaneExit)
    }

    let configuration: Configuration
    private(set) var settings: ProjectSettings
    private var stage = Stage.top
    private var stopRequested = false
    private var tokenPresent = true
    private var lingerAllowed = true
    private var pausedByAnswer = false
    private var gaveUp = false
    private var lastSettings: Instant
    private var lastGapScan: Instant
    private var finalScanDone = false
    /// The next claim is the look before idling (`finalScanDone` just set).
    private var lastLookNext = false
    /// A lane that caught up sent all it held: once its request is collected (no new lead
    /// meanwhile) its next claim is the last look before idling.
    private var lastLookAfterCollecting = false
    /// The settings read asked for just before idling: answered, the lane idles.
    private var idleAfterSettings = false
    private var idleSince: Instant?
    /// A busy lane waits for its turn before it claims; one that caught up looks without.
    private var expectWork = true
    /// The last claim was short: the lane sends what trickles in, not a backlog. Before its
    /// first claim, what the lane's start counted (`readyAtStart`); a lane that was not told
    /// counts as caught up: it may have been started for one fresh lead (a quiet project's
    /// lane ends after `idleLinger`), and a backlog's lane goes ahead for its first claim only.
    private var caughtUp = true
    /// Whether `caughtUp` is known (a claim answered, or the start's count), not a guess.
    private var sized = false
    private(set) var holdsSlot = false
    /// Leads put back for a retry are looked for when this lane's come due, now and then
    /// (the gap scan's rhythm) for anyone else's, and until none is found.
    private var lookForRetries = true
    private var retriesDue: [Instant] = []
    private(set) var cursor: Int64 = 0
    private(set) var buffer: [Lead] = []
    /// Leads out in each request, by attempt, until the lane collects the request: never
    /// claimed again while there. (A finished request's ids stay excluded until then; the
    /// gap scan's plan depends on that list: docs/performance.md.)
    private(set) var inFlight: [Int64: [Int64]] = [:]
    /// After a 400 naming a smaller maximum.
    private var shrunkBatchSize: Int?
    private var byteHalvings = 0
    private var goodSinceHalving = 0
    /// The round's batch size, fixed once the settings are known.
    private var batchSize = 0

    /// - Parameter readyAtStart: how many leads were ready when the lane started, counted
    ///   up to `startCount` (`LaneStart.ready`); nil when not counted. More than `smallJob`
    ///   is a backlog from the first claim on: it asks for its turn behind lanes sending a
    ///   few fresh leads, and its first claim (a full batch) is not latency-sensitive. When
    ///   a worker starts beside backlogs every lane is new, and a quiet project's first
    ///   lead waited for the backlogs' first requests, which went ahead as new lanes
    ///   (docs/operating.md §22).
    init(settings: ProjectSettings, configuration: Configuration, now: Instant, readyAtStart: Int? = nil) {
        self.settings = settings
        self.configuration = configuration
        self.lastSettings = now
        self.lastGapScan = now
        if let readyAtStart {
            caughtUp = !Self.startsWithBacklog(readyAtStart)
            sized = true
        }
    }

    /// Whether a lane whose start counted `readyAtStart` ready leads has a backlog to
    /// drain: more than `smallJob`, or not counted.
    static func startsWithBacklog(_ readyAtStart: Int?) -> Bool { (readyAtStart ?? .max) > smallJob }

    /// How far a lane's start counts its ready leads (`readyAtStart`): enough to tell a few
    /// fresh leads from a backlog, and no further.
    static var startCount: Int { smallJob + 1 }

    /// How long a lane that caught up waits for the next arrival once its turn has come:
    /// half the window's spacing (`rate_limit_window` / `rate_limit_requests`), so the
    /// leads already waiting never wait more than one and a half spacings for company that
    /// does not come, and never more than `maxCompanyWait` (a slow limit's spacing is
    /// minutes). Nil when the configuration turns the wait off.
    var companyWait: Duration? {
        guard configuration.awaitsCompany else { return nil }
        return min(settings.rateLimitWindow / max(1, settings.rateLimitRequests) / 2, Self.maxCompanyWait)
    }

    static var maxCompanyWait: Duration { .milliseconds(100) }

    /// Whether the lane's database calls now are latency-sensitive: it has caught up and
    /// holds at most `smallJob` leads, so someone is waiting for a few fresh leads. Such
    /// calls take a reserved connection when one is free (shortest job first for the
    /// database, docs/operating.md §22), as such a lane goes ahead for request slots; a
    /// lane draining a backlog, or one that caught up with a big batch in hand, queues on
    /// the shared pool. Asked before each call; a request's write-back keeps what its send
    /// was.
    var latencySensitive: Bool { caughtUp && buffer.count <= Self.smallJob }

    /// The most leads a latency-sensitive lane holds: a write-back of this many takes a
    /// connection for about a millisecond, a backlog's 1000 for several.
    static var smallJob: Int { 100 }

    /// The byte budget in force: `max_request_bytes`, halved after 413s.
    var byteBudget: Int { settings.maxRequestBytes >> byteHalvings }

    /// Records `event` and answers with what to do next.
    mutating func handle(_ event: Event, now: Instant) -> Action {
        receive(event, now: now)
        return nextAction(now: now)
    }

    /// Records `event` without deciding: the answer to the last action, or a fact the lane
    /// noticed meanwhile (an answer of a request out, a stop, the tokens file).
    mutating func receive(_ event: Event, now: Instant) {
        switch event {
        case .shutdown:
            stopRequested = true
        case .tokensChanged(let present):
            tokenPresent = present
        case .lingerAllowed(let allowed):
            lingerAllowed = allowed
        case .settingsRead(let read):
            guard stage == .readingSettings else { return }
            if let read { settings = read }
            lastSettings = now
            stage = .settingsKnown
            if idleAfterSettings {
                idleAfterSettings = false
                // Paused meanwhile: the round ends the lane now.
                if !settings.paused { stage = .idle }
            }
        case .rateLimitChecked(let earliest):
            guard stage == .checkingRateLimit else { return }
            // The turn was asked for: take it now if it has come, without looking again.
            stage = earliest > now ? .sleeping(until: earliest) : .acquiringSlot
        case .windowOpened:
            guard case .sleeping = stage else { return }
            // Arrival-aware pacing (README, Performance): a free token is spent at once
            // (`rateLimitChecked`). A lane that has caught up but had to wait for its turn
            // is getting leads faster than the window refills; sent now, its request would
            // fall between two arrivals and leave the next lead a whole spacing to wait.
            // Sent with the next arrival, that lead goes at once and the ones waiting
            // travel with it; the pacing keeps its grid as long as the wait is under a
            // spacing. A backlog never waits (every request is full anyway).
            if caughtUp, let wait = companyWait {
                stage = .awaitingCompany(until: now.advanced(by: wait))
            } else {
                stage = .top
            }
        case .companyWaitEnded:
            if case .awaitingCompany = stage { stage = .top }
        case .slotGranted:
            guard stage == .acquiringSlot else { return }
            holdsSlot = true
            stage = .claimStep
        case .claimed(let vetted, let claimed, let retriesFound, let newCursor):
            guard case .claiming(let want, _) = stage else { return }
            cursor = max(cursor, newCursor)
            sized = true
            lookForRetries = retriesFound > 0
            expectWork = claimed >= want
            caughtUp = claimed < want
            if claimed > 0 {
                buffer = buffer.isEmpty ? vetted : (buffer + vetted).sorted { $0.id < $1.id }
                finalScanDone = false
            }
            stage = .afterClaim
        case .woken(let notified):
            guard stage == .idle || stage == .collectingOrWoken else { return }
            if notified { expectWork = true }
            lastLookAfterCollecting = false
            stage = .top
        case .leadsRefused(let ids):
            guard case .sending = stage else { return }
            buffer.removeAll { ids.contains($0.id) }
            stage = .top
        case .sent(let attemptId, let ids):
            guard case .sending = stage else { return }
            let taken = Set(ids)
            // Usually all of it went: then let its storage go too, or every lane would keep
            // a batch-sized array while it waits for its turn.
            if taken.count == buffer.count { buffer = [] } else { buffer.removeAll { taken.contains($0.id) } }
            inFlight[attemptId] = ids
            // The slot goes with the request; its task gives it back.
            holdsSlot = false
            stage = .top
            // Caught up and nothing left: a claim now would find only what a notification
            // announces (the lane would see it in the wait), and would queue beside the
            // request's own write-back on the reserved connection (docs/operating.md §22).
            // Wait for the request or the next lead; then, with nothing new, look once
            // (arrival rows and retries, the look before idling) instead of twice.
            if caughtUp && buffer.isEmpty && !lookForRetries && !retriesDue.contains(where: { $0 <= now })
                && !stopRequested && !pausedByAnswer && !gaveUp
            {
                lastLookAfterCollecting = true
                // With `max_in_flight` out nothing else could go anyway.
                stage = inFlight.count >= settings.maxInFlight ? .collecting : .collectingOrWoken
            }
        case .lockLost:
            guard case .sending = stage else { return }
            stage = .finished(.lockLost)
        case .answerPlanned(let project, let due):
            retriesDue.append(contentsOf: due)
            switch project {
            case .pause: pausedByAnswer = true
            case .shrinkBatch(let size): shrunkBatchSize = min(shrunkBatchSize ?? size, size)
            case .shrinkRequestBytes:
                byteHalvings = min(byteHalvings + 1, 20)
                goodSinceHalving = 0
            case .none:
                if byteHalvings > 0 {
                    goodSinceHalving += 1
                    if goodSinceHalving >= Self.goodRequestsPerRestore {
                        byteHalvings -= 1
                        goodSinceHalving = 0
                    }
                }
            case .rateLimited: break  // the project's limiter backs off (the lane's driver)
            }
        case .writeBackFailed:
            gaveUp = true
        case .writeBackDone(let attemptId):
            if let attemptId { inFlight[attemptId] = nil } else { inFlight = [:] }
            if stage == .collecting || stage == .collectingOrWoken {
                if lastLookAfterCollecting {
                    lastLookAfterCollecting = false
                    lookBeforeIdling(now: now)
                }
                stage = .top
            }
        }
    }

    /// What to do next, from where the round stands. Asked again before the last action
    /// was answered, it answers with that action again.
    mutating func nextAction(now: Instant) -> Action {
        while true {
            switch stage {
            case .finished(let exit):
                return finish(exit)
            case .top:
                if stopRequested { return finish(.stopped) }
                if pausedByAnswer { return finish(.paused) }
                if gaveUp { return finish(.writeBackFailed) }
                // Read before a claim with a slot, which may send at once. A look without
                // one (a lane that caught up) comes back here before it sends anything, so
                // its row is read then if it found work: a small project's last look before
                // its lane ends reads none (docs/operating.md §21).
                if lastSettings.duration(to: now) > configuration.settingsInterval && (expectWork || holdsSlot) {
                    stage = .readingSettings
                    return .readSettings
                }
                stage = .settingsKnown
            case .readingSettings:
                return .readSettings
            case .settingsKnown:
                if settings.paused { return finish(.paused) }
                if !tokenPresent { return finish(.tokenMissing) }
                batchSize = min(settings.maxBatchSize, shrunkBatchSize ?? .max)
                stage = .inFlightCap
            case .inFlightCap:
                if inFlight.count >= settings.maxInFlight { return .waitForRequest }
                // An answer that came back meanwhile may have paused the project.
                if pausedByAnswer { return finish(.paused) }
                // A busy lane waits for its turn (the project's rate limit, then a
                // worker-wide slot) before it claims, so only lanes about to send hold leads
                // in memory, and leads that arrive meanwhile go along. A lane that has caught
                // up looks without a slot.
                if expectWork && !holdsSlot {
                    stage = .checkingRateLimit
                    return .checkRateLimit
                }
                stage = .claimStep
            case .checkingRateLimit:
                return .checkRateLimit
            case .sleeping(let until):
                return .sleep(until: until)
            case .awaitingCompany(let until):
                return .awaitCompany(until: until)
            case .acquiringSlot:
                // Shortest job first: a few fresh leads go ahead of a backlog's full batch
                // (a quiet project beside busy ones: README, Performance).
                return .acquireSlot(caughtUp ? (sized ? .caughtUp : .starting) : .backlog)
            case .claimStep:
                if buffer.count < batchSize { return claim(now: now) }
                stage = .afterClaim
            case .claiming(_, let action):
                return action
            case .afterClaim:
                if let action = afterClaim(now: now) { return action }
            case .collecting:
                return .waitForRequest
            case .collectingOrWoken:
                return .waitForRequestOrWork(timeout: configuration.sweepInterval)
            case .idle:
                return .waitForWork(timeout: configuration.sweepInterval)
            case .sending(let batch, let byteBudget):
                return .send(batch, byteBudget: byteBudget)
            }
        }
    }

    private mutating func finish(_ exit: LaneExit) -> Action {
        stage = .finished(exit)
        if holdsSlot {
            holdsSlot = false
            return .releaseSlot
        }
        return .finish(exit)
    }

    /// The next claim is the look before idling: a gap scan, now.
    private mutating func lookBeforeIdling(now: Instant) {
        finalScanDone = true
        lastLookNext = true
        lastGapScan = now.advanced(by: .zero - configuration.gapScanInterval)
    }

    private mutating func claim(now: Instant) -> Action {
        let scanGaps = lastGapScan.duration(to: now) >= configuration.gapScanInterval
        if scanGaps { lastGapScan = now }
        let retries = lookForRetries || scanGaps || retryCameDue(now: now)
        // Gaps lie below what was read before: none before the first read.
        let gaps = scanGaps && cursor > 0
        let lastLook = lastLookNext && gaps && !lookForRetries && !retriesDue.contains { $0 <= now }
        lastLookNext = false
        let action = Action.claim(
            afterId: cursor, want: batchSize, scanGaps: gaps, retries: retries,
            exclude: retries || gaps ? inFlight.sorted { $0.key < $1.key }.flatMap(\.value) + buffer.map(\.id) : [],
            lastLook: lastLook)
        stage = .claiming(want: batchSize, action)
        return action
    }

    /// Whether a retry of this lane's has come due since the last look.
    private mutating func retryCameDue(now: Instant) -> Bool {
        let before = retriesDue.count
        retriesDue.removeAll { $0 <= now }
        return retriesDue.count < before
    }

    /// After the claim: send a batch, or with nothing buffered give the slot back, collect
    /// a request out, scan once more, idle. Nil: go on with the stage set.
    private mutating func afterClaim(now: Instant) -> Action? {
        if buffer.isEmpty {
            if holdsSlot {
                holdsSlot = false
                return .releaseSlot
            }
            if !inFlight.isEmpty {
                // A lane that has caught up does not make the next lead wait for the last
                // request's answer and write-back (under load they can take a hundred
                // milliseconds: docs/operating.md §22): a notification ends the wait, and
                // the lead goes out beside the request still out, within `max_in_flight`.
                if caughtUp {
                    stage = .collectingOrWoken
                    return .waitForRequestOrWork(timeout: configuration.sweepInterval)
                }
                stage = .collecting
                return .waitForRequest
            }
            // Before idling, look once more below the cursor for late commits.
            if !finalScanDone {
                lookBeforeIdling(now: now)
                stage = .top
                return nil
            }
            if configuration.once { return finish(.drained) }
            // Idle: keep the project (and the lock) for a while, so the next notification
            // of this project is served at once, then let it go; at once when the
            // dispatcher needs the lane for another project.
            let since = idleSince ?? now
            idleSince = since
            if !lingerAllowed || since.duration(to: now) >= configuration.idleLinger { return finish(.drained) }
            // Read the project's row now if it would be due within half the interval, not
            // on the wake path: the next lead's claim then goes first (docs/operating.md
            // §22). A pause or new limits are still seen within the interval and a half.
            if lastSettings.duration(to: now) * 2 >= configuration.settingsInterval {
                idleAfterSettings = true
                stage = .readingSettings
                return .readSettings
            }
            stage = .idle
            return .waitForWork(timeout: configuration.sweepInterval)
        }
        idleSince = nil
        if !holdsSlot {
            // Found by looking: now wait for the turn, and fill the batch up then.
            expectWork = true
            stage = .top
            return nil
        }
        if stopRequested { return finish(.stopped) }
        guard let batch = BatchPlanner.nextBatch(from: buffer, maxBatchSize: batchSize) else {
            return finish(.drained)
        }
        stage = .sending(batch, byteBudget: byteBudget)
        return .send(batch, byteBudget: byteBudget)
    }
}

/// One request's write-back (docs/operating.md §8): a transient failure (the database
/// away, a conflict, a timeout) is retried with back-off, 200 ms doubling to 5 s, the
/// attempt's lease renewed each time, until `patience` has passed or the worker stops; a
/// permanent one (data the database refuses) closes the attempt as unstorable instead, its
/// leads back to pending, ambiguous. Giving up leaves the attempt open: the lane ends and
/// the sweep recovers it once its lease runs out.
struct WriteBackRetry<Instant: InstantProtocol & Sendable>: Sendable where Instant.Duration == Duration {
    enum Decision: Sendable, Equatable {
        /// Write again at once, closing the attempt as unstorable for this reason.
        case closeUnstorable(why: String)
        /// Sleep this long, renew the lease, write again.
        case retry(after: Duration)
        case giveUp
    }

    private let giveUpAt: Instant
    private var delay = Duration.milliseconds(200)
    /// Set once the database refused the answer itself: what the attempt is closed with.
    private(set) var unstorable: String?

    init(startedAt: Instant, patience: Duration) {
        giveUpAt = startedAt.advanced(by: patience)
    }

    /// A write-back failed at `now`; `transient` when trying again may succeed.
    mutating func failed(transient: Bool, why: String, cancelled: Bool, now: Instant) -> Decision {
        if unstorable == nil && !transient {
            let reason = "the answer could not be stored (\(why)); outcome unknown"
            unstorable = reason
            return .closeUnstorable(why: reason)
        }
        guard now.advanced(by: delay) < giveUpAt, !cancelled else { return .giveUp }
        defer { delay = min(delay * 2, .seconds(5)) }
        return .retry(after: delay)
    }
}
