import LeadSyncCore
import LeadSyncStore

/// Why a lane ended.
enum LaneExit: Sendable, Equatable {
    /// `writeBackFailed`: an answer could not be written back in time; its attempt stays
    /// open until the sweep recovers it, and the next lane waits for that.
    /// `tokenMissing`: the lane holds the project's pending leads before it ends.
    case drained, paused, tokenMissing, stopped, lockLost, writeBackFailed
}

/// Every decision of a project lane, with no I/O, so each can be tested alone: the lane
/// (`ProjectLane`) reports what happened as events and performs the action the machine
/// answers with. Generic over the instant so tests drive it with made-up times.
///
/// One round: exits first; settings refreshed each second;
/// at most `max_in_flight` requests out; a busy lane waits for the project's rate limit,
/// then a worker-wide slot, before it claims; one claim (new leads, retries when due, gap
/// scans now and then); then one batch sent, or, with nothing buffered, the requests out
/// drained, a final gap scan, and idling.
struct LaneStateMachine<Instant: InstantProtocol & Sendable>: Sendable where Instant.Duration == Duration {
    struct Configuration: Sendable {
        var once: Bool
        var gapScanInterval: Duration
        var idleLinger: Duration
        var sweepInterval: Duration
        /// How often the project's row is read again (a pause, new limits).
        var settingsInterval: Duration = .seconds(1)
    }

    enum Event: Sendable {
        /// The lock session is lost or a graceful shutdown began: start nothing more.
        case stopRequested
        /// Whether the tokens file has a token for the project, looked at before each step.
        case tokensChanged(present: Bool)
        /// The project's row as read now; nil when it is gone (the last one stays).
        case settingsRefreshed(ProjectSettings?)
        /// The rate limiter's earliest allowed start, asked for by `checkRateLimit`.
        case rateLimitChecked(earliestStart: Instant)
        case rateLimitWaitOver
        case slotGranted
        /// The claim's leads that passed the pre-check (in id order), how many were claimed,
        /// how many were retries, and the highest new id read.
        case claimed(vetted: [Lead], claimed: Int, retriesFound: Int, cursor: Int64)
        /// The idle wait ended; `notified` when a notification named the project.
        case woken(notified: Bool)
        /// The batch's first lead alone is over `max_request_bytes`: it is invalid now.
        case leadTooLarge(Int64)
        /// The batch (cut to the byte budget) is recorded as an attempt and its request is out,
        /// with the lane's slot.
        case sent(attemptId: Int64, leadIds: [Int64])
        /// Recording an attempt found the project's lock gone.
        case lockLost
        /// A request's answer, planned: how the project reacts, and when its requeued leads
        /// come due.
        case answerPlanned(attemptId: Int64, project: OutcomePlanner.ProjectAction, retriesDue: [Instant])
        case writeBackDone(attemptId: Int64)
        /// A write-back that could not be done in time: the lane ends (see `ProjectLane.writeBack`).
        case writeBackGaveUp(attemptId: Int64)
    }

    enum Action: Sendable, Equatable {
        case refreshSettings
        /// Ask the project's rate limiter for its earliest start (`rateLimitChecked`).
        case checkRateLimit
        /// docs/contract.md §4: no start before then; `rateLimitWaitOver` after.
        case waitForRateLimit(until: Instant)
        case acquireSlot
        /// Give the lane's slot back, then ask for the next action.
        case releaseSlot
        /// New leads after `afterId`; due retries when `retries`; late commits at or below
        /// `afterId` when `scanGaps`; never the leads in `exclude` (buffered or in flight).
        case claim(afterId: Int64, want: Int, scanGaps: Bool, retries: Bool, exclude: [Int64])
        /// Wait until some request out finishes, then ask for the next action.
        case waitForRequest
        /// Wait for a notification of the project, at most `timeout` (`woken`).
        case waitForWork(timeout: Duration)
        /// Cut `batch` to `byteBudget` bytes (docs/contract.md §4), record the attempt and send
        /// it: `sent`, `leadTooLarge` or `lockLost`.
        case send(BatchPlanner.Batch, byteBudget: Int)
        /// The lane ends; requests still out finish and are written back first.
        case finish(LaneExit)
    }

    /// docs/contract.md §3: a 413 halves the byte budget for a while; every
    /// `goodRequestsPerRestore` requests that pass give one halving back. The configured
    /// `max_request_bytes` itself never changes.
    static var goodRequestsPerRestore: Int { 10 }

    private enum Stage: Equatable {
        case top
        case checkingRateLimit
        case rateLimitChecked(Instant)
        case waitingForRateLimit
        case acquiringSlot
        case claim
        case claiming(want: Int)
        case afterClaim
        case sending
        case finished(LaneExit)
    }

    let configuration: Configuration
    private(set) var settings: ProjectSettings
    private var stage = Stage.top
    private var stopRequested = false
    private var tokenPresent = true
    private var pausedByAnswer = false
    private var gaveUp = false
    private var lastSettings: Instant
    private var lastGapScan: Instant
    private var finalScanDone = false
    private var idleSince: Instant?
    /// A busy lane waits for its turn before it claims; one that caught up looks without.
    private var expectWork = true
    private(set) var holdsSlot = false
    /// Leads put back for a retry are looked for when this lane's come due, now and then
    /// (the gap scan's rhythm) for anyone else's, and until none is found.
    private var lookForRetries = true
    private var retriesDue: [Instant] = []
    private var cursor: Int64 = 0
    private(set) var buffer: [Lead] = []
    /// Leads out in each request, by attempt: never claimed again while there.
    private(set) var inFlight: [Int64: [Int64]] = [:]
    /// After a 400 naming a smaller maximum.
    private var shrunkBatchSize: Int?
    private var byteHalvings = 0
    private var goodSinceHalving = 0
    /// The round's batch size, fixed when the round starts.
    private var batchSize = 0

    init(settings: ProjectSettings, configuration: Configuration, now: Instant) {
        self.settings = settings
        self.configuration = configuration
        self.lastSettings = now
        self.lastGapScan = now
    }

    /// The byte budget in force: `max_request_bytes`, halved after 413s.
    var byteBudget: Int { settings.maxRequestBytes >> byteHalvings }

    /// Records `event` and answers with what to do next.
    mutating func handle(_ event: Event, now: Instant) -> Action {
        receive(event, now: now)
        return nextAction(now: now)
    }

    /// Records `event` without deciding: the answer to the last action, then the facts the
    /// lane noticed meanwhile (answers of requests out, a stop, the tokens file).
    mutating func receive(_ event: Event, now: Instant) {
        switch event {
        case .stopRequested:
            stopRequested = true
        case .tokensChanged(let present):
            tokenPresent = present
        case .settingsRefreshed(let refreshed):
            if let refreshed { settings = refreshed }
            lastSettings = now
        case .rateLimitChecked(let earliest):
            if stage == .checkingRateLimit { stage = .rateLimitChecked(earliest) }
        case .rateLimitWaitOver:
            if !isFinished { stage = .top }
        case .slotGranted:
            holdsSlot = true
            if !isFinished { stage = .claim }
        case .claimed(let vetted, let claimed, let retriesFound, let newCursor):
            cursor = max(cursor, newCursor)
            lookForRetries = retriesFound > 0
            if case .claiming(let want) = stage { expectWork = claimed >= want }
            if !vetted.isEmpty {
                buffer = buffer.isEmpty ? vetted : (buffer + vetted).sorted { $0.id < $1.id }
                finalScanDone = false
            }
            if !isFinished { stage = .afterClaim }
        case .woken(let notified):
            if notified { expectWork = true }
            if !isFinished { stage = .top }
        case .leadTooLarge(let id):
            buffer.removeAll { $0.id == id }
            if !isFinished { stage = .top }
        case .sent(let attemptId, let ids):
            let taken = Set(ids)
            // Usually all of it went: then let its storage go too, or every lane would keep
            // a batch-sized array while it waits for its turn.
            if taken.count == buffer.count { buffer = [] } else { buffer.removeAll { taken.contains($0.id) } }
            inFlight[attemptId] = ids
            // The slot goes with the request; its task gives it back.
            holdsSlot = false
            if !isFinished { stage = .top }
        case .lockLost:
            if !isFinished { stage = .finished(.lockLost) }
        case .answerPlanned(_, let project, let due):
            if let soonest = due.min() { retriesDue.append(soonest) }
            if let latest = due.max(), let soonest = due.min(), latest > soonest { retriesDue.append(latest) }
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
            case .rateLimited: break
            }
        case .writeBackDone(let attemptId):
            inFlight[attemptId] = nil
        case .writeBackGaveUp(let attemptId):
            inFlight[attemptId] = nil
            gaveUp = true
        }
    }

    private var isFinished: Bool {
        if case .finished = stage { return true }
        return false
    }

    /// What to do next, from where the round stands.
    mutating func nextAction(now: Instant) -> Action {
        switch stage {
        case .finished(let exit):
            return finish(exit)
        case .checkingRateLimit:
            // Asking the limiter again is harmless; the answer is `rateLimitChecked`.
            return .checkRateLimit
        case .rateLimitChecked(let earliest):
            // The turn was asked for: take it now if it has come, without looking again.
            if earliest > now {
                stage = .waitingForRateLimit
                return .waitForRateLimit(until: earliest)
            }
            stage = .acquiringSlot
            return .acquireSlot
        case .waitingForRateLimit:
            preconditionFailure("waiting for the rate limit: answer with `rateLimitWaitOver`")
        case .acquiringSlot:
            preconditionFailure("a slot is asked for: answer with `slotGranted`")
        case .claiming:
            preconditionFailure("a claim is out: answer it with `claimed`")
        case .sending:
            preconditionFailure("a batch is out: answer it with `sent`, `leadTooLarge` or `lockLost`")
        case .top:
            return top(now: now)
        case .claim:
            return claim(now: now)
        case .afterClaim:
            return afterClaim(now: now)
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

    private mutating func top(now: Instant) -> Action {
        if stopRequested { return finish(.stopped) }
        if pausedByAnswer { return finish(.paused) }
        if gaveUp { return finish(.writeBackFailed) }
        if lastSettings.duration(to: now) > configuration.settingsInterval { return .refreshSettings }
        if settings.paused { return finish(.paused) }
        if !tokenPresent { return finish(.tokenMissing) }
        batchSize = min(settings.maxBatchSize, shrunkBatchSize ?? .max)
        if inFlight.count >= settings.maxInFlight { return .waitForRequest }
        // A busy lane waits for its turn (the project's rate limit, then a worker-wide
        // slot) before it claims, so only lanes about to send hold leads in memory, and
        // leads that arrive meanwhile go along. A lane that has caught up looks without a slot.
        if expectWork && !holdsSlot {
            stage = .checkingRateLimit
            return .checkRateLimit
        }
        stage = .claim
        return claim(now: now)
    }

    private mutating func claim(now: Instant) -> Action {
        guard buffer.count < batchSize else {
            stage = .afterClaim
            return afterClaim(now: now)
        }
        let scanGaps = lastGapScan.duration(to: now) >= configuration.gapScanInterval
        if scanGaps { lastGapScan = now }
        let retries = lookForRetries || scanGaps || retryCameDue(now: now)
        // Gaps lie below what was read before: none before the first read.
        let gaps = scanGaps && cursor > 0
        stage = .claiming(want: batchSize)
        return .claim(
            afterId: cursor, want: batchSize, scanGaps: gaps, retries: retries,
            exclude: retries || gaps ? inFlight.values.flatMap { $0 } + buffer.map(\.id) : [])
    }

    /// Whether a retry of this lane's has come due since the last look.
    private mutating func retryCameDue(now: Instant) -> Bool {
        let before = retriesDue.count
        retriesDue.removeAll { $0 <= now }
        return retriesDue.count < before
    }

    private mutating func afterClaim(now: Instant) -> Action {
        if buffer.isEmpty {
            if holdsSlot {
                holdsSlot = false
                return .releaseSlot
            }
            if !inFlight.isEmpty {
                stage = .top
                return .waitForRequest
            }
            // Before idling, look once more below the cursor for late commits.
            if !finalScanDone {
                finalScanDone = true
                lastGapScan = now.advanced(by: .zero - configuration.gapScanInterval)
                stage = .top
                return top(now: now)
            }
            if configuration.once { return finish(.drained) }
            // Idle: keep the project (and the lock) for a while, so the next notification
            // of this project is served at once, then let it go.
            let since = idleSince ?? now
            idleSince = since
            if since.duration(to: now) >= configuration.idleLinger { return finish(.drained) }
            stage = .top
            return .waitForWork(timeout: configuration.sweepInterval)
        }
        idleSince = nil
        if !holdsSlot {
            // Found by looking: now wait for the turn, and fill the batch up then.
            expectWork = true
            stage = .top
            return top(now: now)
        }
        if stopRequested { return finish(.stopped) }
        // The token went since the round began: nothing more goes out with it.
        if !tokenPresent { return finish(.tokenMissing) }
        guard let batch = BatchPlanner.nextBatch(from: buffer, maxBatchSize: batchSize) else {
            return finish(.drained)
        }
        stage = .sending
        return .send(batch, byteBudget: byteBudget)
    }
}
