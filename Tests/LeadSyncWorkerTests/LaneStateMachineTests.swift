import LeadSyncCore
import LeadSyncStore
import Testing

@testable import LeadSyncWorker

/// An instant the test moves by hand: no clock is read, nothing sleeps.
struct TestInstant: InstantProtocol, Sendable {
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
    static func + (instant: TestInstant, duration: Duration) -> TestInstant { instant.advanced(by: duration) }
}

/// The lane's decisions, event by event (docs/contract.md §3, §4): what `ProjectLane` does
/// with a real database and a real Uservox, here with made-up answers and instants.
struct LaneStateMachineTests {
    typealias Machine = LaneStateMachine<TestInstant>

    static let configuration = Machine.Configuration(
        once: false, gapScanInterval: .seconds(10), idleLinger: .seconds(30), sweepInterval: .seconds(5))

    static func settings(batch: Int = 2, inFlight: Int = 1, paused: Bool = false) -> ProjectSettings {
        ProjectSettings(
            projectId: "p", maxBatchSize: batch, maxInFlight: inFlight, paused: paused, maxRequestBytes: 4096)
    }

    static func leads(_ ids: ClosedRange<Int64>) -> [Lead] {
        ids.map { Lead(id: $0, projectId: "p", phone: "+1415555\(1000 + $0)") }
    }

    static func batch(_ ids: ClosedRange<Int64>) -> BatchPlanner.Batch {
        BatchPlanner.Batch(mode: .leads, initialize: true, leads: leads(ids))
    }

    /// A lane that took its turn and a slot and is asked to claim, at `now`.
    static func claiming(
        _ machine: inout Machine, now: TestInstant, afterId: Int64 = 0, retries: Bool = true,
        scanGaps: Bool = false, exclude: [Int64] = [], want: Int = 2
    ) {
        #expect(machine.nextAction(now: now) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: now), now: now) == .acquireSlot)
        #expect(
            machine.handle(.slotGranted, now: now)
                == .claim(afterId: afterId, want: want, scanGaps: scanGaps, retries: retries, exclude: exclude))
    }

    /// From a lane that found nothing, with nothing buffered or out and its slot given back:
    /// the final gap scan (none below a cursor still at 0), then idling.
    static func idles(_ machine: inout Machine, now: TestInstant, cursor: Int64) {
        #expect(
            machine.nextAction(now: now)
                == .claim(afterId: cursor, want: 2, scanGaps: cursor > 0, retries: true, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: cursor), now: now)
                == .waitForWork(timeout: .seconds(5)))
    }

    @Test func aBusyLaneSendsFullBatchesUnderItsInFlightCapThenDrains() {
        var t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...3), claimed: 3, retriesFound: 0, cursor: 3), now: t)
                == .send(Self.batch(1...2), byteBudget: 4096))
        // The slot went with the request: one out is the cap, so the lane waits for it.
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        #expect(!machine.holdsSlot)
        #expect(machine.inFlight == [10: [1, 2]])
        #expect(machine.nextAction(now: t) == .waitForRequest)

        t = t + .milliseconds(300)
        machine.receive(.answerPlanned(attemptId: 10, project: .none, retriesDue: []), now: t)
        machine.receive(.writeBackDone(attemptId: 10), now: t)
        // Still busy: its turn first, then a claim that excludes nothing (no retries, no gaps).
        Self.claiming(&machine, now: t, afterId: 3, retries: false)
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 3), now: t)
                == .send(Self.batch(3...3), byteBudget: 4096))
        #expect(machine.handle(.sent(attemptId: 11, leadIds: [3]), now: t) == .waitForRequest)
        machine.receive(.writeBackDone(attemptId: 11), now: t)
        // Caught up (the last claim was short): it looks without a slot, then scans once
        // more below the cursor before idling.
        #expect(
            machine.nextAction(now: t) == .claim(afterId: 3, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 3), now: t)
                == .claim(afterId: 3, want: 2, scanGaps: true, retries: true, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 3), now: t)
                == .waitForWork(timeout: .seconds(5)))
    }

    @Test func aClaimWithNothingReleasesTheSlotAndWaitsForTheRequestsOut() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(inFlight: 2), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        // Room for another request: its turn, a slot, a claim.
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t) == .releaseSlot)
        #expect(machine.nextAction(now: t) == .waitForRequest)
        machine.receive(.writeBackDone(attemptId: 10), now: t)
        // One more look, then the final scan (nothing to exclude once nothing is out).
        #expect(
            machine.nextAction(now: t) == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: true, retries: true, exclude: []))
    }

    @Test func anIdleLaneLingersThenEndsDrained() {
        var t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .releaseSlot)
        Self.idles(&machine, now: t, cursor: 0)
        // Woken by the sweep's timeout, not a notification: it looks without a slot (after
        // reading the project's row again, a second having passed).
        t = t + .seconds(5)
        #expect(machine.handle(.woken(notified: false), now: t) == .refreshSettings)
        #expect(
            machine.handle(.settingsRefreshed(nil), now: t)
                == .claim(afterId: 0, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
                == .waitForWork(timeout: .seconds(5)))
        t = t + .seconds(25)
        #expect(machine.handle(.woken(notified: false), now: t) == .refreshSettings)
        // A gap scan is due (none below a cursor at 0), and retries are looked for with it.
        #expect(
            machine.handle(.settingsRefreshed(nil), now: t)
                == .claim(afterId: 0, want: 2, scanGaps: false, retries: true, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .finish(.drained))
    }

    @Test func aNotificationMakesAnIdleLaneBusyAgain() {
        var t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        Self.idles(&machine, now: t, cursor: 0)
        t = t + .milliseconds(500)
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
    }

    @Test func withOnceALaneEndsAsSoonAsItCaughtUp() {
        let t = TestInstant.zero
        var configuration = Self.configuration
        configuration.once = true
        var machine = Machine(settings: Self.settings(), configuration: configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        #expect(
            machine.nextAction(now: t) == .claim(afterId: 0, want: 2, scanGaps: false, retries: true, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .finish(.drained))
    }

    @Test func a429BlocksTheLaneUntilTheLimiterAllowsTheNextStart() {
        var t = TestInstant.zero
        var machine = Machine(settings: Self.settings(inFlight: 2), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...4), claimed: 4, retriesFound: 0, cursor: 4), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        // The answer is a 429: the limiter (the lane's, shared) now says wait 30 s.
        machine.receive(
            .answerPlanned(
                attemptId: 10, project: .rateLimited(retryAfter: .seconds(30)), retriesDue: [t + .seconds(30)]),
            now: t)
        machine.receive(.writeBackDone(attemptId: 10), now: t)
        #expect(machine.nextAction(now: t) == .checkRateLimit)
        let opens = t + .seconds(30)
        #expect(machine.handle(.rateLimitChecked(earliestStart: opens), now: t) == .waitForRateLimit(until: opens))
        t = opens
        #expect(machine.handle(.rateLimitWaitOver, now: t) == .refreshSettings)
        // After the wait it looks at everything again, asks again, and goes.
        #expect(machine.handle(.settingsRefreshed(Self.settings(inFlight: 2)), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot)
        #expect(machine.handle(.slotGranted, now: t) == .send(Self.batch(3...4), byteBudget: 4096))
    }

    @Test func retriesAreLookedForWhenTheLanesComeDue() {
        var t = TestInstant.zero
        var machine = Machine(settings: Self.settings(inFlight: 2), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        machine.receive(
            .answerPlanned(
                attemptId: 10, project: .none, retriesDue: [t + .seconds(3), t + .seconds(4), t + .seconds(3)]),
            now: t)
        machine.receive(.writeBackDone(attemptId: 10), now: t)
        // Not due yet: new leads only.
        Self.claiming(&machine, now: t, afterId: 2, retries: false)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t)
        Self.idles(&machine, now: t, cursor: 2)
        // Due: the soonest, then the latest.
        t = t + .seconds(3)
        #expect(machine.handle(.woken(notified: false), now: t) == .refreshSettings)
        #expect(
            machine.handle(.settingsRefreshed(nil), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: true, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t)
                == .waitForWork(timeout: .seconds(5)))
        #expect(
            machine.handle(.woken(notified: false), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t)
        t = t + .seconds(2)
        #expect(machine.handle(.woken(notified: false), now: t) == .refreshSettings)
        #expect(
            machine.handle(.settingsRefreshed(nil), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: true, exclude: []))
        // Retries found: looked for again until none is.
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 1, cursor: 2), now: t)
                == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: true, exclude: [1]))
    }

    @Test func gapsAreScannedEveryIntervalAndOnceBeforeIdling() {
        var t = TestInstant.zero
        var machine = Machine(settings: Self.settings(inFlight: 4), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        // No gap scan before the interval is up.
        t = t + .milliseconds(900)
        Self.claiming(&machine, now: t, afterId: 2, retries: false)
        _ = machine.handle(.claimed(vetted: Self.leads(3...4), claimed: 2, retriesFound: 0, cursor: 4), now: t)
        _ = machine.handle(.sent(attemptId: 11, leadIds: [3, 4]), now: t)
        // The interval is up: below the cursor too, minus what is out (and retries with it).
        t = t + .seconds(10)
        #expect(machine.nextAction(now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot)
        guard
            case .claim(let afterId, 2, true, true, let exclude) = machine.handle(.slotGranted, now: t)
        else {
            Issue.record("a gap scan was due")
            return
        }
        #expect(afterId == 4)
        #expect(exclude.sorted() == [1, 2, 3, 4])
        // Caught up: the final scan goes below the cursor again at once.
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 4), now: t) == .releaseSlot)
        #expect(machine.nextAction(now: t) == .waitForRequest)
        machine.receive(.writeBackDone(attemptId: 10), now: t)
        machine.receive(.writeBackDone(attemptId: 11), now: t)
        #expect(machine.nextAction(now: t) == .refreshSettings)
        #expect(
            machine.handle(.settingsRefreshed(nil), now: t)
                == .claim(afterId: 4, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 4), now: t)
                == .claim(afterId: 4, want: 2, scanGaps: true, retries: true, exclude: []))
        // A late lead found: scanned for once more before idling again.
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 4), now: t)
                == .checkRateLimit)
    }

    @Test func aPauseInAnAnswerOrTheProjectsRowEndsTheLane() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...4), claimed: 4, retriesFound: 0, cursor: 4), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        machine.receive(
            .answerPlanned(attemptId: 10, project: .pause(.projectInactive, message: "inactive"), retriesDue: []),
            now: t)
        // Seen before the next claim, though the request's write-back is not done.
        #expect(machine.nextAction(now: t) == .finish(.paused))

        var byRow = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&byRow, now: t)
        _ = byRow.handle(.claimed(vetted: Self.leads(1...4), claimed: 4, retriesFound: 0, cursor: 4), now: t)
        _ = byRow.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        byRow.receive(.writeBackDone(attemptId: 10), now: t)
        let later = t + .seconds(2)
        #expect(byRow.nextAction(now: later) == .refreshSettings)
        #expect(byRow.handle(.settingsRefreshed(Self.settings(paused: true)), now: later) == .finish(.paused))
    }

    @Test func aLostLockGivesTheSlotBackAndEndsTheLane() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        #expect(machine.handle(.lockLost, now: t) == .releaseSlot)
        #expect(!machine.holdsSlot)
        #expect(machine.nextAction(now: t) == .finish(.lockLost))
        // Whatever else arrives, the end stands.
        #expect(machine.handle(.woken(notified: true), now: t) == .finish(.lockLost))
    }

    @Test func aStopEndsTheLaneWithoutStartingMore() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...4), claimed: 4, retriesFound: 0, cursor: 4), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        machine.receive(.stopRequested, now: t)
        // The request out is the driver's to drain; nothing more is claimed or sent.
        #expect(machine.nextAction(now: t) == .finish(.stopped))

        // A stop between the claim and the send: the slot goes back first.
        var late = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&late, now: t)
        late.receive(.stopRequested, now: t)
        #expect(
            late.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
                == .releaseSlot)
        #expect(late.nextAction(now: t) == .finish(.stopped))
    }

    @Test func aMissingTokenEndsTheLaneSoItsLeadsAreHeld() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        machine.receive(.tokensChanged(present: false), now: t)
        #expect(machine.nextAction(now: t) == .finish(.tokenMissing))

        // Gone between the claim and the send: nothing goes out without it.
        var late = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&late, now: t)
        late.receive(.tokensChanged(present: false), now: t)
        #expect(
            late.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
                == .releaseSlot)
        #expect(late.nextAction(now: t) == .finish(.tokenMissing))
    }

    @Test func aWriteBackGivenUpEndsTheLane() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...4), claimed: 4, retriesFound: 0, cursor: 4), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        machine.receive(.answerPlanned(attemptId: 10, project: .none, retriesDue: []), now: t)
        machine.receive(.writeBackGaveUp(attemptId: 10), now: t)
        #expect(machine.inFlight.isEmpty)
        #expect(machine.nextAction(now: t) == .finish(.writeBackFailed))
    }

    @Test func aLeadTooLargeAloneLeavesTheBufferAndTheRestGoes() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
                == .send(Self.batch(1...2), byteBudget: 4096))
        // Still holding its slot, it claims to fill the batch up again.
        #expect(
            machine.handle(.leadTooLarge(1), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t)
                == .send(Self.batch(2...2), byteBudget: 4096))
    }

    @Test func answersShrinkTheBatchAndTheByteBudgetForAWhile() {
        let t = TestInstant.zero
        var machine = Machine(settings: Self.settings(batch: 4), configuration: Self.configuration, now: t)
        Self.claiming(&machine, now: t, want: 4)
        _ = machine.handle(.claimed(vetted: Self.leads(1...4), claimed: 4, retriesFound: 0, cursor: 4), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2, 3, 4]), now: t) == .waitForRequest)
        machine.receive(.answerPlanned(attemptId: 10, project: .shrinkBatch(to: 2), retriesDue: []), now: t)
        machine.receive(.answerPlanned(attemptId: 10, project: .shrinkRequestBytes, retriesDue: []), now: t)
        machine.receive(.answerPlanned(attemptId: 10, project: .shrinkRequestBytes, retriesDue: []), now: t)
        machine.receive(.writeBackDone(attemptId: 10), now: t)
        #expect(machine.byteBudget == 1024)
        Self.claiming(&machine, now: t, afterId: 4, retries: false)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(5...7), claimed: 3, retriesFound: 0, cursor: 7), now: t)
                == .send(Self.batch(5...6), byteBudget: 1024))
        // Every `goodRequestsPerRestore` requests that pass give one halving back.
        for _ in 0..<Machine.goodRequestsPerRestore {
            machine.receive(.answerPlanned(attemptId: 11, project: .none, retriesDue: []), now: t)
        }
        #expect(machine.byteBudget == 2048)
    }
}
