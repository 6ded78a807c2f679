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

/// The lane's decisions, event by event (docs/contract.md §3, §4; docs/operating.md §6):
/// what `ProjectLane` does with a real database and a real Uservox, here with made-up
/// answers and instants.
struct LaneStateMachineTests {
    typealias Machine = LaneStateMachine<TestInstant>

    /// Settings are read again only where a test says so.
    static func configuration(once: Bool = false, settingsInterval: Duration = .seconds(3600)) -> Machine.Configuration
    {
        Machine.Configuration(
            once: once, gapScanInterval: .seconds(10), idleLinger: .seconds(30), sweepInterval: .seconds(5),
            settingsInterval: settingsInterval)
    }

    static func settings(batch: Int = 2, inFlight: Int = 1, paused: Bool = false) -> ProjectSettings {
        ProjectSettings(
            projectId: "p", maxBatchSize: batch, maxInFlight: inFlight, paused: paused, maxRequestBytes: 4096)
    }

    static func machine(
        batch: Int = 2, inFlight: Int = 1, once: Bool = false, settingsInterval: Duration = .seconds(3600)
    ) -> Machine {
        Machine(
            settings: settings(batch: batch, inFlight: inFlight),
            configuration: configuration(once: once, settingsInterval: settingsInterval), now: .zero)
    }

    static func leads(_ ids: ClosedRange<Int64>) -> [Lead] {
        ids.map { Lead(id: $0, projectId: "p", phone: "+1415555\(1000 + $0)") }
    }

    static func batch(_ ids: ClosedRange<Int64>) -> BatchPlanner.Batch {
        BatchPlanner.Batch(mode: .leads, initialize: true, leads: leads(ids))
    }

    /// A busy lane takes its turn (the rate limit allows now) and a slot, then is asked to claim.
    /// `priority`: how it asks for the slot, when the test says (a lane goes ahead of
    /// backlogs for its first claim: `aLaneStartsAheadUntilItsFirstClaimShowsABacklog`).
    static func takesItsTurn(
        _ machine: inout Machine, now: TestInstant, priority: RequestSlots.Priority? = nil
    ) -> Machine.Action {
        #expect(machine.nextAction(now: now) == .checkRateLimit)
        let slot = machine.handle(.rateLimitChecked(earliestStart: now), now: now)
        if let priority {
            #expect(slot == .acquireSlot(priority))
        } else {
            #expect([.acquireSlot(.caughtUp), .acquireSlot(.starting), .acquireSlot(.backlog)].contains(slot))
        }
        return machine.handle(.slotGranted, now: now)
    }

    @Test func aBusyLaneClaimsAfterItsTurnSendsFullBatchesAndDrains() {
        let t = TestInstant.zero
        var machine = Self.machine()
        // The first claim also looks for retries (a lane never knows what an earlier one left).
        #expect(
            Self.takesItsTurn(&machine, now: t)
                == .claim(afterId: 0, want: 2, scanGaps: false, retries: true, exclude: []))
        #expect(machine.holdsSlot)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...3), claimed: 3, retriesFound: 0, cursor: 3), now: t)
                == .send(Self.batch(1...2), byteBudget: 4096))
        // The slot went with the request; one out is the cap: the lane collects it first.
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        #expect(!machine.holdsSlot)
        #expect(machine.inFlight == [10: [1, 2]])
        #expect(machine.buffer.map(\.id) == [3])
        // Answered and written back, it still counts as out until collected.
        machine.receive(.answerPlanned(project: .none, retriesDue: []), now: t)
        #expect(machine.nextAction(now: t) == .waitForRequest)
        #expect(machine.handle(.writeBackDone(attemptId: 10), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.backlog))
        // The buffered lead goes along with what the claim finds.
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 3, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 3), now: t)
                == .send(Self.batch(3...3), byteBudget: 4096))
        #expect(machine.handle(.sent(attemptId: 11, leadIds: [3]), now: t) == .waitForRequest)
        // Caught up (the last claim was short) with nothing left: once its request is
        // collected it looks once more, below the cursor too (late commits), without
        // waiting for a turn; then it idles.
        #expect(
            machine.handle(.writeBackDone(attemptId: 11), now: t)
                == .claim(afterId: 3, want: 2, scanGaps: true, retries: true, exclude: [], lastLook: true))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 3), now: t)
                == .waitForWork(timeout: .seconds(5)))
    }

    /// The database is asked what the loop before the machine asked: a request's leads stay
    /// excluded from claims until the lane collects the request, even once it is written
    /// back. (Without them the gap scan's plan walked the primary key: docs/performance.md.)
    @Test func requestsCountAsOutUntilCollected() {
        var t = TestInstant.zero
        var machine = Self.machine(inFlight: 2)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .checkRateLimit)
        machine.receive(.answerPlanned(project: .none, retriesDue: []), now: t)
        t = t + .seconds(11)  // a gap scan is due
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.backlog))
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 2, scanGaps: true, retries: true, exclude: [1, 2]))
        _ = machine.handle(.claimed(vetted: Self.leads(3...4), claimed: 2, retriesFound: 0, cursor: 4), now: t)
        // Two out, one of them finished: still the cap until the lane collects one.
        #expect(machine.handle(.sent(attemptId: 11, leadIds: [3, 4]), now: t) == .waitForRequest)
        #expect(machine.handle(.writeBackDone(attemptId: 10), now: t) == .checkRateLimit)
        #expect(machine.inFlight == [11: [3, 4]])
    }

    @Test func aClaimWithNothingGivesTheSlotBackAndCollectsARequestBeforeLookingAgain() {
        let t = TestInstant.zero
        var machine = Self.machine(inFlight: 2)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.backlog))
        _ = machine.handle(.slotGranted, now: t)
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t) == .releaseSlot)
        #expect(!machine.holdsSlot)
        // Caught up (the claim was short): a notification would end the wait too.
        #expect(machine.nextAction(now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(
            machine.handle(.writeBackDone(attemptId: 10), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
    }

    @Test func anIdleLaneLingersThenGivesTheProjectUp() {
        var t = TestInstant.zero
        var machine = Self.machine()
        _ = Self.takesItsTurn(&machine, now: t)
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .releaseSlot)
        // The final scan: none below a cursor still at 0.
        #expect(
            machine.nextAction(now: t) == .claim(afterId: 0, want: 2, scanGaps: false, retries: true, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
                == .waitForWork(timeout: .seconds(5)))
        // Woken by the sweep's rhythm, not by a notification: a look, still nothing.
        t = t + .seconds(5)
        #expect(
            machine.handle(.woken(notified: false), now: t)
                == .claim(afterId: 0, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
                == .waitForWork(timeout: .seconds(5)))
        t = t + .seconds(25)
        _ = machine.handle(.woken(notified: false), now: t)
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .finish(.drained))
    }

    /// Many tenants (docs/operating.md §21): while other projects wait for a lane, a lane
    /// that has caught up gives its project up after its final scan instead of lingering;
    /// one already lingering leaves at its next look.
    @Test func anIdleLaneDoesNotLingerWhileTheDispatcherNeedsItsPlace() {
        var t = TestInstant.zero
        var machine = Self.machine()
        machine.receive(.lingerAllowed(false), now: t)
        _ = Self.takesItsTurn(&machine, now: t)
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .releaseSlot)
        _ = machine.nextAction(now: t)  // the final scan
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .finish(.drained))

        var lingering = Self.machine()
        _ = Self.takesItsTurn(&lingering, now: t)
        _ = lingering.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        _ = lingering.nextAction(now: t)
        #expect(
            lingering.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
                == .waitForWork(timeout: .seconds(5)))
        t = t + .seconds(1)
        lingering.receive(.lingerAllowed(false), now: t)
        _ = lingering.handle(.woken(notified: false), now: t)
        #expect(
            lingering.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
                == .finish(.drained))
    }

    @Test func aNotificationWakesAnIdleLaneIntoTakingItsTurn() {
        let t = TestInstant.zero
        var machine = Self.machine()
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        _ = machine.nextAction(now: t)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
    }

    @Test func aLaneThatFindsLeadsWithoutASlotTakesItsTurnThenFillsTheBatch() {
        let t = TestInstant.zero
        var machine = Self.machine()
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        _ = machine.nextAction(now: t)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
                == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 1, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: Self.leads(2...2), claimed: 1, retriesFound: 0, cursor: 2), now: t)
                == .send(Self.batch(1...2), byteBudget: 4096))
    }

    @Test func withOnceTheLaneEndsWhenCaughtUp() {
        let t = TestInstant.zero
        var machine = Self.machine(once: true)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        _ = machine.nextAction(now: t)
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .finish(.drained))
    }

    /// docs/contract.md §3: a 429 backs the project's limiter off; the lane sleeps until the
    /// limiter's next start, looks at everything again, and retries its requeued leads
    /// when they come due.
    @Test func a429BlocksTheLaneUntilTheWindowOpensAndItsLeadsComeDue() {
        var t = TestInstant.zero
        var machine = Self.machine(inFlight: 2)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .checkRateLimit)
        machine.receive(
            .answerPlanned(project: .rateLimited(retryAfter: .seconds(5)), retriesDue: [t + .seconds(5)]), now: t)
        #expect(
            machine.handle(.rateLimitChecked(earliestStart: t + .seconds(5)), now: t) == .sleep(until: t + .seconds(5)))
        // Asked again before the window opened: the same sleep.
        #expect(machine.nextAction(now: t) == .sleep(until: t + .seconds(5)))
        t = t + .seconds(5)
        #expect(machine.handle(.windowOpened, now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.backlog))
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: true, exclude: [1, 2]))
    }

    @Test func retriesAreLookedForWhenDueAndWhileFound() {
        var t = TestInstant.zero
        var machine = Self.machine(inFlight: 3)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        // A 5xx: its leads come due between 2 s and 3 s from now.
        machine.receive(.answerPlanned(project: .none, retriesDue: [t + .seconds(2), t + .seconds(3)]), now: t)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
        _ = machine.handle(.claimed(vetted: Self.leads(3...4), claimed: 2, retriesFound: 0, cursor: 4), now: t)
        _ = machine.handle(.sent(attemptId: 11, leadIds: [3, 4]), now: t)
        t = t + .seconds(2)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 4, want: 2, scanGaps: false, retries: true, exclude: [1, 2, 3, 4]))
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 1, cursor: 4), now: t)
                == .send(Self.batch(1...1), byteBudget: 4096))
        #expect(machine.handle(.sent(attemptId: 12, leadIds: [1]), now: t) == .waitForRequest)
        // One found: looked for again at the next claim.
        #expect(
            machine.handle(.writeBackDone(attemptId: 10), now: t)
                == .claim(afterId: 4, want: 2, scanGaps: false, retries: true, exclude: [3, 4, 1]))
        // None found: not again until the latest due instant (or a gap scan).
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 4), now: t)
                == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(
            machine.handle(.writeBackDone(attemptId: 11), now: t)
                == .claim(afterId: 4, want: 2, scanGaps: false, retries: false, exclude: []))
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 4), now: t)
        t = t + .seconds(1)
        #expect(
            machine.handle(.writeBackDone(attemptId: 12), now: t)
                == .claim(afterId: 4, want: 2, scanGaps: false, retries: true, exclude: []))
    }

    @Test func gapScansComeEveryIntervalAndOnlyBelowWhatWasRead() {
        var t = TestInstant.zero
        var machine = Self.machine(batch: 1, inFlight: 5)
        t = t + .seconds(10)
        // Due, but nothing was read yet: no gap scan, and the interval starts again.
        #expect(
            Self.takesItsTurn(&machine, now: t)
                == .claim(afterId: 0, want: 1, scanGaps: false, retries: true, exclude: []))
        _ = machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1]), now: t)
        t = t + .seconds(9)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 1, want: 1, scanGaps: false, retries: false, exclude: []))
        _ = machine.handle(.claimed(vetted: Self.leads(2...2), claimed: 1, retriesFound: 0, cursor: 2), now: t)
        _ = machine.handle(.sent(attemptId: 11, leadIds: [2]), now: t)
        t = t + .seconds(1)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 1, scanGaps: true, retries: true, exclude: [1, 2]))
    }

    @Test func aPauseReadFromTheProjectEndsTheLane() {
        var t = TestInstant.zero
        var machine = Self.machine(settingsInterval: .seconds(1))
        t = t + .seconds(2)
        #expect(machine.nextAction(now: t) == .readSettings)
        #expect(machine.nextAction(now: t) == .readSettings)  // asked again: the same
        let paused = Self.settings(paused: true)
        #expect(machine.handle(.settingsRead(paused), now: t) == .finish(.paused))
    }

    @Test func aProjectRowGoneKeepsTheLastSettings() {
        var t = TestInstant.zero
        var machine = Self.machine(settingsInterval: .seconds(1))
        t = t + .seconds(2)
        #expect(machine.nextAction(now: t) == .readSettings)
        #expect(machine.handle(.settingsRead(nil), now: t) == .checkRateLimit)
        #expect(machine.settings == Self.settings())
    }

    @Test func aPauseInAnAnswerEndsTheLaneOnceItsRequestsAreCollected() {
        let t = TestInstant.zero
        var machine = Self.machine()
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        machine.receive(.answerPlanned(project: .pause(.tokenMismatch, message: "mismatch"), retriesDue: []), now: t)
        #expect(machine.handle(.writeBackDone(attemptId: 10), now: t) == .finish(.paused))
    }

    @Test func aLostLockEndsTheLaneAndGivesTheSlotBack() {
        let t = TestInstant.zero
        var machine = Self.machine()
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        #expect(machine.handle(.lockLost, now: t) == .releaseSlot)
        #expect(machine.nextAction(now: t) == .finish(.lockLost))
        #expect(machine.nextAction(now: t) == .finish(.lockLost))
    }

    @Test func aShutdownStopsTheLaneBeforeItsNextRequest() {
        let t = TestInstant.zero
        var machine = Self.machine()
        _ = Self.takesItsTurn(&machine, now: t)
        machine.receive(.shutdown, now: t)
        // The claim was out: its leads are not sent, the slot goes back.
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
                == .releaseSlot)
        #expect(machine.nextAction(now: t) == .finish(.stopped))

        var idle = Self.machine()
        idle.receive(.shutdown, now: t)
        #expect(idle.nextAction(now: t) == .finish(.stopped))
    }

    @Test func noTokenEndsTheLaneToHoldItsLeads() {
        let t = TestInstant.zero
        var machine = Self.machine()
        machine.receive(.tokensChanged(present: false), now: t)
        #expect(machine.nextAction(now: t) == .finish(.tokenMissing))
    }

    @Test func aWriteBackGivenUpEndsTheLane() {
        let t = TestInstant.zero
        var machine = Self.machine(inFlight: 2)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .checkRateLimit)
        machine.receive(.writeBackFailed, now: t)
        #expect(
            machine.handle(.rateLimitChecked(earliestStart: t + .seconds(1)), now: t) == .sleep(until: t + .seconds(1)))
        #expect(machine.handle(.windowOpened, now: t + .seconds(1)) == .finish(.writeBackFailed))
    }

    /// docs/contract.md §3: a 413 halves the byte budget; every 10 requests that pass give
    /// one halving back; the configured `max_request_bytes` never changes.
    @Test func a413HalvesTheByteBudgetForAWhile() {
        let t = TestInstant.zero
        var machine = Self.machine(inFlight: 20)
        machine.receive(.answerPlanned(project: .shrinkRequestBytes, retriesDue: []), now: t)
        machine.receive(.answerPlanned(project: .shrinkRequestBytes, retriesDue: []), now: t)
        #expect(machine.byteBudget == 1024)
        _ = Self.takesItsTurn(&machine, now: t)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
                == .send(Self.batch(1...2), byteBudget: 1024))
        for _ in 1...9 { machine.receive(.answerPlanned(project: .none, retriesDue: []), now: t) }
        #expect(machine.byteBudget == 1024)
        machine.receive(.answerPlanned(project: .none, retriesDue: []), now: t)
        #expect(machine.byteBudget == 2048)
        for _ in 1...10 { machine.receive(.answerPlanned(project: .none, retriesDue: []), now: t) }
        #expect(machine.byteBudget == 4096)
        #expect(machine.settings.maxRequestBytes == 4096)
        // A lead alone over the configured budget is invalid now and leaves the buffer.
        // The lane keeps its slot and fills the batch up again.
        #expect(
            machine.handle(.leadsRefused([1]), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(machine.buffer.map(\.id) == [2])
    }

    /// docs/contract.md §3: from the next round on, batches are no larger than the 400 said.
    @Test func a400NamingASmallerMaximumShrinksTheBatch() {
        let t = TestInstant.zero
        var machine = Self.machine(batch: 3)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...3), claimed: 3, retriesFound: 0, cursor: 3), now: t)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2, 3]), now: t) == .waitForRequest)
        machine.receive(.answerPlanned(project: .shrinkBatch(to: 1), retriesDue: []), now: t)
        // The round under way keeps its size.
        #expect(machine.handle(.writeBackDone(attemptId: 10), now: t) == .checkRateLimit)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 3, want: 3, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: Self.leads(4...6), claimed: 3, retriesFound: 0, cursor: 6), now: t)
                == .send(Self.batch(4...6), byteBudget: 4096))
        #expect(machine.handle(.sent(attemptId: 11, leadIds: [4, 5, 6]), now: t) == .waitForRequest)
        #expect(machine.handle(.writeBackDone(attemptId: 11), now: t) == .checkRateLimit)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 6, want: 1, scanGaps: false, retries: false, exclude: []))
    }

    @Test func anActionAskedAgainBeforeItsAnswerIsRepeated() {
        let t = TestInstant.zero
        var machine = Self.machine()
        let claim = Self.takesItsTurn(&machine, now: t)
        #expect(machine.nextAction(now: t) == claim)
        // An answer to something not asked is ignored.
        machine.receive(.windowOpened, now: t)
        machine.receive(.woken(notified: true), now: t)
        #expect(machine.nextAction(now: t) == claim)
    }

    /// Arrival-aware pacing (README, Performance): a lane that caught up and had to wait for
    /// its turn waits for the next arrival, at most half a spacing (5 s / 100 requests / 2),
    /// and then sends what waited together with it.
    @Test func aLaneThatCaughtUpAndWaitedForItsTurnSendsWithTheNextArrival() {
        var t = TestInstant.zero
        var machine = Self.machine(batch: 10, inFlight: 4)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
        // Caught up: it waits for its request or the next lead, which arrives before the
        // window allows a start.
        #expect(
            machine.handle(.sent(attemptId: 10, leadIds: [1]), now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        t = t + .milliseconds(20)
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
        #expect(
            machine.handle(.rateLimitChecked(earliestStart: t + .milliseconds(30)), now: t)
                == .sleep(until: t + .milliseconds(30)))
        t = t + .milliseconds(30)
        #expect(machine.handle(.windowOpened, now: t) == .awaitCompany(until: t + .milliseconds(25)))
        #expect(machine.nextAction(now: t) == .awaitCompany(until: t + .milliseconds(25)))
        t = t + .milliseconds(10)
        #expect(machine.handle(.companyWaitEnded, now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 1, want: 10, scanGaps: false, retries: false, exclude: []))
        // A slow limit (one request an hour) waits for company 100 ms at most.
        let slow = Machine(
            settings: ProjectSettings(projectId: "p", rateLimitRequests: 1, rateLimitWindow: .seconds(3600)),
            configuration: Self.configuration(), now: .zero)
        #expect(slow.companyWait == .milliseconds(100))
        #expect(machine.companyWait == .milliseconds(25))
    }

    /// A free token is spent at once, and a backlog (full claims) never waits for company.
    @Test func aFreeTokenOrABacklogSendsWithoutWaitingForCompany() {
        var t = TestInstant.zero
        var machine = Self.machine(batch: 2, inFlight: 4)
        _ = Self.takesItsTurn(&machine, now: t)
        _ = machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1]), now: t)
        // Caught up, a lead arrives, the token free: the lead goes at once.
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
        _ = machine.handle(.slotGranted, now: t)
        // Then a backlog: full claims.
        #expect(
            machine.handle(.claimed(vetted: Self.leads(2...3), claimed: 2, retriesFound: 0, cursor: 3), now: t)
                == .send(Self.batch(2...3), byteBudget: 4096))
        #expect(machine.handle(.sent(attemptId: 11, leadIds: [2, 3]), now: t) == .checkRateLimit)
        #expect(
            machine.handle(.rateLimitChecked(earliestStart: t + .milliseconds(50)), now: t)
                == .sleep(until: t + .milliseconds(50)))
        t = t + .milliseconds(50)
        #expect(machine.handle(.windowOpened, now: t) == .checkRateLimit)
    }

    /// The bench's scenario 3 with no time spent by the database or Uservox: 500 leads 20 ms
    /// apart at the default limit (100 requests / 5 s), the machine driven as `ProjectLane`
    /// drives it, with the real `RateLimiter`. Two requests per five arrivals at best: p50
    /// 20 ms is the floor for any sender (README, Performance). Pacing blind to arrivals
    /// gives p50 ~26 ms and p99 ~52 ms.
    @Test func singleLeadsTwentyMillisecondsApartGoOutAtTheFloorOfTheDefaultLimit() {
        let settings = ProjectSettings(projectId: "p")  // the defaults: 100 / 5 s, batches of 1000
        var machine = Machine(settings: settings, configuration: Self.configuration(), now: .zero)
        var limiter = RateLimiter<TestInstant>(
            settings: .init(requests: settings.rateLimitRequests, window: settings.rateLimitWindow))
        // A millisecond off the 20 ms grid, so no arrival ties with a start.
        let arrivals = (0..<500).map { TestInstant.zero + .milliseconds(1001 + 20 * $0) }
        var t = TestInstant.zero
        // Arrivals up to this instant were signalled and taken.
        var seen = TestInstant.zero
        var sentAt: [Int64: TestInstant] = [:]
        var starts: [TestInstant] = []
        var out: [Int64] = []
        var nextAttempt: Int64 = 1
        func arrived(after: TestInstant, upTo: TestInstant) -> TestInstant? {
            arrivals.first { $0 > after && $0 <= upTo }
        }
        var action = machine.nextAction(now: t)
        var steps = 0
        while sentAt.count < arrivals.count && steps < 100_000 {
            steps += 1
            var event: Machine.Event
            switch action {
            case .readSettings: event = .settingsRead(settings)
            case .checkRateLimit:
                machine.receive(.rateLimitChecked(earliestStart: limiter.earliestStart(now: t)), now: t)
                action = machine.nextAction(now: t)
                continue
            case .sleep(let until):
                t = until
                event = .windowOpened
            case .awaitCompany(let until):
                seen = t
                t = arrived(after: t, upTo: until) ?? until
                seen = t
                event = .companyWaitEnded
            case .acquireSlot: event = .slotGranted
            case .releaseSlot:
                action = machine.nextAction(now: t)
                continue
            case .claim(let afterId, let want, _, _, _, _):
                let found = arrivals.indices.filter { Int64($0 + 1) > afterId && arrivals[$0] <= t }.prefix(want)
                let leads = found.map { Lead(id: Int64($0 + 1), projectId: "p", phone: "+1415555\(1000 + $0)") }
                event = .claimed(
                    vetted: leads, claimed: leads.count, retriesFound: 0, cursor: leads.last?.id ?? afterId)
            case .waitForRequest, .waitForRequestOrWork:
                event = .writeBackDone(attemptId: out.isEmpty ? nil : out.removeFirst())
            case .waitForWork(let timeout):
                if arrived(after: seen, upTo: t) == nil {
                    t = arrived(after: t, upTo: t + timeout) ?? t + timeout
                }
                let notified = arrived(after: seen, upTo: t) != nil
                seen = t
                event = .woken(notified: notified)
            case .send(let batch, _):
                #expect(limiter.earliestStart(now: t) <= t)
                limiter.recordStart(at: t)
                starts.append(t)
                for lead in batch.leads { sentAt[lead.id] = t }
                out.append(nextAttempt)
                event = .sent(attemptId: nextAttempt, leadIds: batch.leads.map(\.id))
                nextAttempt += 1
            case .finish:
                Issue.record("unexpected \(action)")
                return
            }
            action = machine.handle(event, now: t)
        }
        #expect(sentAt.count == arrivals.count)
        let latencies = sentAt.map { arrivals[Int($0.key - 1)].duration(to: $0.value) }.sorted()
        let p50 = latencies[latencies.count / 2]
        let p99 = latencies[latencies.count * 99 / 100]
        #expect(p50 <= .milliseconds(20), "p50 \(p50)")
        #expect(p99 <= .milliseconds(40), "p99 \(p99)")
        // Never more than the limit in any window.
        for (i, start) in starts.enumerated() {
            #expect(starts[i...].prefix { $0 < start + settings.rateLimitWindow }.count <= settings.rateLimitRequests)
        }
    }
}

/// A quiet project beside busy ones (docs/operating.md §22): a lane that has caught up goes
/// first for slots and connections, and nothing it can do early waits on the wake path.
extension LaneStateMachineTests {
    @Test func aLaneStartsAheadUntilItsFirstClaimShowsABacklog() {
        let t = TestInstant.zero
        var machine = Self.machine(batch: 3, inFlight: 4)
        // Started for what may be one fresh lead: ahead for the slot, latency-sensitive.
        #expect(machine.latencySensitive)
        #expect(
            Self.takesItsTurn(&machine, now: t, priority: .starting)
                == .claim(afterId: 0, want: 3, scanGaps: false, retries: true, exclude: []))
        // A full claim: a backlog, which queues like every other.
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...3), claimed: 3, retriesFound: 0, cursor: 3), now: t)
                == .send(Self.batch(1...3), byteBudget: 4096))
        #expect(!machine.latencySensitive)
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2, 3]), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.backlog))
    }

    /// What the lane's start counted decides its first turn (docs/operating.md §22): a worker
    /// starting beside backlogs starts every lane at once, and a quiet project's first lead
    /// must not queue behind the backlogs' first requests as one more new lane.
    @Test func aLaneStartedWithItsReadyLeadsCountedIsABacklogOrAQuietProjectFromItsFirstClaim() {
        let t = TestInstant.zero
        func started(ready: Int) -> Machine {
            Machine(
                settings: Self.settings(batch: 1000, inFlight: 4), configuration: Self.configuration(), now: t,
                readyAtStart: ready)
        }
        #expect(Machine.startCount == Machine.smallJob + 1)
        // More than a small job: its first claim (a full batch) queues behind lanes sending
        // a few fresh leads and goes to the shared pool.
        var backlog = started(ready: Machine.startCount)
        #expect(!backlog.latencySensitive)
        #expect(
            Self.takesItsTurn(&backlog, now: t, priority: .backlog)
                == .claim(afterId: 0, want: 1000, scanGaps: false, retries: true, exclude: []))
        #expect(!backlog.latencySensitive)
        // A few fresh leads, or none yet (a retry due, a lead on its way): ahead of new
        // lanes too, and latency-sensitive.
        for ready in [0, 1, Machine.smallJob] {
            var quiet = started(ready: ready)
            #expect(quiet.latencySensitive)
            #expect(
                Self.takesItsTurn(&quiet, now: t, priority: .caughtUp)
                    == .claim(afterId: 0, want: 1000, scanGaps: false, retries: true, exclude: []))
            #expect(quiet.latencySensitive)
        }
        // A start that counted a backlog is still told apart by its claims: a short one has caught up.
        _ = backlog.handle(.claimed(vetted: Self.leads(1...3), claimed: 3, retriesFound: 0, cursor: 3), now: t)
        #expect(
            backlog.handle(.sent(attemptId: 10, leadIds: [1, 2, 3]), now: t)
                == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(backlog.latencySensitive)
        #expect(backlog.handle(.woken(notified: true), now: t) == .checkRateLimit)
        #expect(backlog.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
    }

    /// A new lane asks for a slot as `starting` until a claim shows it caught up: then it
    /// goes before new lanes, which may be backlogs (a worker starting beside a backlog:
    /// docs/operating.md §22).
    @Test func aLaneKnownToHaveCaughtUpAsksAheadOfNewLanes() {
        let t = TestInstant.zero
        var machine = Self.machine(batch: 3, inFlight: 4)
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        _ = machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
        _ = machine.handle(.sent(attemptId: 10, leadIds: [1]), now: t)
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
        // A claim with nothing in it counts too.
        var empty = Self.machine(batch: 3, inFlight: 4)
        _ = Self.takesItsTurn(&empty, now: t, priority: .starting)
        #expect(empty.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .releaseSlot)
        _ = empty.nextAction(now: t)
        #expect(
            empty.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
                == .checkRateLimit)
        #expect(empty.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
    }

    @Test func onlyALaneThatCaughtUpWithAFewLeadsIsLatencySensitive() {
        let t = TestInstant.zero
        let small = Machine.smallJob
        var machine = Self.machine(batch: 1000, inFlight: 4)
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        // Caught up, but with a big batch in hand: its write-back holds a connection long.
        let many = Int64(small + 1)
        #expect(
            machine.handle(
                .claimed(vetted: Self.leads(1...many), claimed: small + 1, retriesFound: 0, cursor: many), now: t)
                == .send(Self.batch(1...many), byteBudget: 4096))
        #expect(!machine.latencySensitive)
        #expect(
            machine.handle(.sent(attemptId: 10, leadIds: Array(1...many)), now: t)
                == .waitForRequestOrWork(timeout: .seconds(5)))
        // Nothing buffered, caught up: its claim and what it finds are.
        #expect(machine.latencySensitive)
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: many, want: 1000, scanGaps: false, retries: false, exclude: []))
        #expect(machine.latencySensitive)
        _ = machine.handle(
            .claimed(vetted: Self.leads(many + 1...many + 2), claimed: 2, retriesFound: 0, cursor: many + 2), now: t)
        #expect(machine.latencySensitive)
    }

    @Test func aLeadArrivingWhileACaughtUpLanesRequestIsOutDoesNotWaitForIt() {
        let t = TestInstant.zero
        var machine = Self.machine(batch: 2, inFlight: 4)
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
                == .send(Self.batch(1...1), byteBudget: 4096))
        // Nothing more, the request still out: wait for it or for the next lead.
        #expect(
            machine.handle(.sent(attemptId: 10, leadIds: [1]), now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(machine.nextAction(now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        // The next lead: it goes at once, beside the request out.
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
        #expect(machine.handle(.rateLimitChecked(earliestStart: t), now: t) == .acquireSlot(.caughtUp))
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 1, want: 2, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: Self.leads(2...2), claimed: 1, retriesFound: 0, cursor: 2), now: t)
                == .send(Self.batch(2...2), byteBudget: 4096))
        #expect(
            machine.handle(.sent(attemptId: 11, leadIds: [2]), now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(machine.inFlight.count == 2)
        // The request ending first is collected, and the lane looks again, its last look.
        #expect(
            machine.handle(.writeBackDone(attemptId: 10), now: t)
                == .claim(afterId: 2, want: 2, scanGaps: true, retries: true, exclude: [2], lastLook: true))
        #expect(machine.inFlight.count == 1)
    }

    /// After sending all it held, a lane that caught up does not claim beside its request's
    /// write-back: it waits for the request or the next lead, and then looks once (arrival
    /// rows and retries) before idling, instead of a claim, another after the request, and
    /// the look before idling.
    @Test func aCaughtUpLaneThatSentAllItHeldLooksOnceAfterItsRequest() {
        let t = TestInstant.zero
        var machine = Self.machine(batch: 10, inFlight: 4)
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
                == .send(Self.batch(1...1), byteBudget: 4096))
        #expect(
            machine.handle(.sent(attemptId: 10, leadIds: [1]), now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(
            machine.handle(.writeBackDone(attemptId: 10), now: t)
                == .claim(afterId: 1, want: 10, scanGaps: true, retries: true, exclude: [], lastLook: true))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 1), now: t)
                == .waitForWork(timeout: .seconds(5)))

        // The next lead arrives before the request ends: its claim is a plain one, and the
        // lane looks as before once it has nothing again.
        _ = machine.handle(.woken(notified: true), now: t)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 1, want: 10, scanGaps: false, retries: false, exclude: []))
        _ = machine.handle(.claimed(vetted: Self.leads(2...2), claimed: 1, retriesFound: 0, cursor: 2), now: t)
        #expect(
            machine.handle(.sent(attemptId: 11, leadIds: [2]), now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
        _ = machine.handle(.rateLimitChecked(earliestStart: t), now: t)
        #expect(
            machine.handle(.slotGranted, now: t)
                == .claim(afterId: 2, want: 10, scanGaps: false, retries: false, exclude: []))
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t) == .releaseSlot)
        #expect(machine.nextAction(now: t) == .waitForRequestOrWork(timeout: .seconds(5)))
        #expect(
            machine.handle(.writeBackDone(attemptId: 11), now: t)
                == .claim(afterId: 2, want: 10, scanGaps: false, retries: false, exclude: []))
        #expect(
            machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t)
                == .claim(afterId: 2, want: 10, scanGaps: true, retries: true, exclude: [], lastLook: true))

        // Its request put a lead back for a retry now due: the look before idling is not
        // one the lane may answer without asking.
        var requeued = Self.machine(batch: 10, inFlight: 4)
        _ = Self.takesItsTurn(&requeued, now: t, priority: .starting)
        _ = requeued.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 0, cursor: 1), now: t)
        _ = requeued.handle(.sent(attemptId: 10, leadIds: [1]), now: t)
        requeued.receive(.answerPlanned(project: .none, retriesDue: [t]), now: t)
        #expect(
            requeued.handle(.writeBackDone(attemptId: 10), now: t)
                == .claim(afterId: 1, want: 10, scanGaps: true, retries: true, exclude: [], lastLook: false))

        // Retries being found: the lane looks at once, as a busy one does.
        var retrying = Self.machine(batch: 10, inFlight: 4)
        _ = Self.takesItsTurn(&retrying, now: t, priority: .starting)
        _ = retrying.handle(.claimed(vetted: Self.leads(1...1), claimed: 1, retriesFound: 1, cursor: 0), now: t)
        #expect(
            retrying.handle(.sent(attemptId: 10, leadIds: [1]), now: t)
                == .claim(afterId: 0, want: 10, scanGaps: false, retries: true, exclude: [1]))
    }

    @Test func aLaneAboutToIdleReadsItsSettingsSoTheNextLeadDoesNotWaitForThem() {
        var t = TestInstant.zero + .milliseconds(600)
        var machine = Self.machine(settingsInterval: .seconds(1))
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .releaseSlot)
        #expect(
            machine.nextAction(now: t) == .claim(afterId: 0, want: 2, scanGaps: false, retries: true, exclude: []))
        // Read 600 ms ago, due in 400: read now, before idling.
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .readSettings)
        #expect(machine.handle(.settingsRead(Self.settings()), now: t) == .waitForWork(timeout: .seconds(5)))
        // A lead 900 ms later: straight to its turn, no read first.
        t = t + .milliseconds(900)
        #expect(machine.handle(.woken(notified: true), now: t) == .checkRateLimit)
    }

    @Test func aPauseReadBeforeIdlingEndsTheLane() {
        let t = TestInstant.zero + .milliseconds(600)
        var machine = Self.machine(settingsInterval: .seconds(1))
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        _ = machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t)
        _ = machine.nextAction(now: t)
        #expect(machine.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 0), now: t) == .readSettings)
        #expect(machine.handle(.settingsRead(Self.settings(paused: true)), now: t) == .finish(.paused))
    }

    /// docs/operating.md §21: a small project's lane that sent all it held and waited over a
    /// second for its answer looks once more before it ends, without reading its row first:
    /// nothing is sent by that look. What it finds goes out only after the row is read.
    @Test func aLastLookWithoutASlotReadsTheRowOnlyWhenItFindsWork() {
        var t = TestInstant.zero
        var machine = Self.machine(batch: 10, inFlight: 1, settingsInterval: .seconds(1))
        _ = Self.takesItsTurn(&machine, now: t, priority: .starting)
        #expect(
            machine.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
                == .send(Self.batch(1...2), byteBudget: 4096))
        #expect(machine.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t) == .waitForRequest)
        t = t + .seconds(2)
        #expect(
            machine.handle(.writeBackDone(attemptId: 10), now: t)
                == .claim(afterId: 2, want: 10, scanGaps: true, retries: true, exclude: [], lastLook: true))
        #expect(
            machine.handle(.claimed(vetted: Self.leads(3...3), claimed: 1, retriesFound: 0, cursor: 3), now: t)
                == .readSettings)
        #expect(machine.handle(.settingsRead(Self.settings(paused: true)), now: t) == .finish(.paused))

        // Nothing found: the lane ends without having read its row.
        var ending = Self.machine(batch: 10, inFlight: 1, settingsInterval: .seconds(1))
        t = TestInstant.zero
        _ = Self.takesItsTurn(&ending, now: t, priority: .starting)
        _ = ending.handle(.claimed(vetted: Self.leads(1...2), claimed: 2, retriesFound: 0, cursor: 2), now: t)
        _ = ending.handle(.sent(attemptId: 10, leadIds: [1, 2]), now: t)
        t = t + .seconds(2)
        _ = ending.handle(.writeBackDone(attemptId: 10), now: t)
        ending.receive(.lingerAllowed(false), now: t)
        #expect(
            ending.handle(.claimed(vetted: [], claimed: 0, retriesFound: 0, cursor: 2), now: t) == .finish(.drained))
    }
}

/// docs/operating.md §8: what a failed write-back does next.
struct WriteBackRetryTests {
    @Test func transientFailuresAreRetriedWithDoublingDelaysUntilThePatienceRunsOut() {
        var t = TestInstant.zero
        var retry = WriteBackRetry(startedAt: t, patience: .seconds(20))
        var delays: [Duration] = []
        while case .retry(let delay) = retry.failed(transient: true, why: "down", cancelled: false, now: t) {
            delays.append(delay)
            t = t + delay
        }
        #expect(
            delays == [
                .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200),
                .seconds(5), .seconds(5),
            ])
        #expect(retry.failed(transient: true, why: "down", cancelled: false, now: t) == .giveUp)
        #expect(retry.unstorable == nil)
    }

    @Test func aStoppingWorkerGivesUpAtOnce() {
        var retry = WriteBackRetry(startedAt: TestInstant.zero, patience: .seconds(20))
        #expect(retry.failed(transient: true, why: "down", cancelled: true, now: .zero) == .giveUp)
    }

    @Test func anAnswerTheDatabaseRefusesClosesTheAttemptAsUnstorableOnce() {
        var retry = WriteBackRetry(startedAt: TestInstant.zero, patience: .seconds(20))
        let reason = "the answer could not be stored (bad data); outcome unknown"
        #expect(
            retry.failed(transient: false, why: "bad data", cancelled: false, now: .zero)
                == .closeUnstorable(why: reason))
        #expect(retry.unstorable == reason)
        // Closing it failing too is retried like any transient failure.
        #expect(
            retry.failed(transient: false, why: "again", cancelled: false, now: .zero)
                == .retry(after: .milliseconds(200)))
    }
}
