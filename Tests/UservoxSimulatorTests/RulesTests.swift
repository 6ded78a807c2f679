import Testing
import WireJSON

@testable import UservoxSimulator

/// The pure pieces, with instants made up instead of a clock.
@Suite struct SlidingWindowTests {
    let t0 = ContinuousClock.now

    @Test func admitsUpToTheLimitThenSaysWhenASlotFrees() {
        var window = SlidingWindow()
        for second in 0..<3 {
            #expect(window.admit(at: t0 + .seconds(second), limit: 3, window: .seconds(10)) == .admitted)
        }
        #expect(window.admit(at: t0 + .seconds(3), limit: 3, window: .seconds(10)) == .full(retryAfter: .seconds(7)))
        // Exactly one window after the first, its slot is free again.
        #expect(window.admit(at: t0 + .seconds(10), limit: 3, window: .seconds(10)) == .admitted)
        #expect(window.admit(at: t0 + .seconds(10), limit: 3, window: .seconds(10)) == .full(retryAfter: .seconds(1)))
    }

    @Test func aLoweredLimitWaitsForTheNewestSlots() {
        var window = SlidingWindow()
        for second in 0..<5 { _ = window.admit(at: t0 + .seconds(second), limit: 5, window: .seconds(10)) }
        #expect(window.admit(at: t0 + .seconds(5), limit: 2, window: .seconds(10)) == .full(retryAfter: .seconds(8)))
    }

    @Test func peakCountsTheBusiestWindow() {
        var peak = WindowPeak()
        for ms in [0, 100, 200, 1000, 1100, 1150, 1199, 3000] {
            peak.record(t0 + .milliseconds(ms), window: .seconds(1))
        }
        // 1000…1199 lie within one second of 200 only up to 1199: {200, 1000, 1100, 1150, 1199}.
        #expect(peak.peak == 5)
    }

    @Test func queueCompactsAndKeepsOrder() {
        var queue = InstantQueue()
        for n in 0..<500 { queue.append(t0 + .milliseconds(n)) }
        for _ in 0..<400 { queue.removeFirst() }
        #expect(queue.count == 100)
        #expect(queue.first == t0 + .milliseconds(400))
        queue.expire(before: t0 + .milliseconds(1450), window: .seconds(1))
        #expect(queue.first == t0 + .milliseconds(451))
    }

    @Test func retryAfterRoundsUpToWholeSeconds() {
        #expect(Duration.milliseconds(1).retryAfterSeconds == 1)
        #expect(Duration.zero.retryAfterSeconds == 1)
        #expect(Duration.seconds(2).retryAfterSeconds == 2)
        #expect(Duration.milliseconds(2001).retryAfterSeconds == 3)
        #expect(Duration.seconds(-3).retryAfterSeconds == 1)
    }
}

@Suite struct ProjectLedgerTests {
    let t0 = ContinuousClock.now
    let project = SimulatorConfiguration.Project(id: "p1", token: "t")
    let limit = SimulatorConfiguration.RateLimit(requests: 2, window: .seconds(5))
    let off = SimulatorConfiguration.DuplicateProtection(strikes: 0)

    func leads(_ phones: [(String, String?)]) -> BulkRequest {
        .leads(
            phones.map { phone, process in
                var members: [(String, JSONValue)] = [("projectId", .string("p1")), ("phone", .string(phone))]
                if let process { members.append(("processId", .string(process))) }
                return IncomingLead(.object(members))
            })
    }

    /// Processes `request`; ids are numbered on from `firstId`, as the simulator's counter does.
    func process(
        _ ledger: inout ProjectLedger, _ request: BulkRequest, answered: Bool = true, firstId: Int = 1
    ) -> [LeadOutcome] {
        var next = firstId
        return ledger.process(request, project: "p1", answered: answered, at: t0, protection: off) {
            defer { next += 1 }
            return next
        }
    }

    @Test func gateOrderIsExistenceActivityBlockThenWindow() {
        var ledger = ProjectLedger()
        var gone = project
        gone.exists = false
        #expect(ledger.receive(at: t0, project: gone, limit: limit) == .notFound)
        var inactive = project
        inactive.active = false
        #expect(ledger.receive(at: t0, project: inactive, limit: limit) == .inactive)
        #expect(ledger.receive(at: t0, project: project, limit: limit) == .admitted)
        #expect(ledger.receive(at: t0, project: project, limit: limit) == .admitted)
        #expect(
            ledger.receive(at: t0 + .seconds(1), project: project, limit: limit) == .limited(retryAfter: .seconds(4)))
        #expect(ledger.stats.requests == 5)
        #expect(ledger.stats.rateLimited == 1)
        #expect(ledger.stats.refused == 2)
        #expect(ledger.stats.maxRequestsInWindow == 5)
    }

    @Test func duplicateRulesFollowPhoneAndProcess() {
        var ledger = ProjectLedger()
        let outcomes = process(
            &ledger,
            leads([
                ("+15551234567", "a"), ("15551234567", "a"), ("+1 555 123 4567", "b"), ("+15551234567", nil),
                ("+15557654321", nil), ("+15557654321", nil),
            ]))
        #expect(
            outcomes == [
                .accepted(id: "uv_1"),
                .rejected(UservoxMessage.alreadyExists),
                .rejected(UservoxMessage.duplicateCall),
                .rejected(UservoxMessage.duplicateCall),
                .accepted(id: "uv_2"),
                .rejected(UservoxMessage.alreadyExists),
            ])
        #expect(ledger.stats.accepted == 2)
        #expect(ledger.stats.rejected == 4)
    }

    @Test func phoneChecksComeFirst() {
        var ledger = ProjectLedger()
        let outcomes = process(&ledger, leads([("12", nil), ("+1 555 777 7777", nil), ("+1 555 123 45x7", nil)]))
        #expect(
            outcomes == [
                .rejected(UservoxMessage.invalidPhone), .rejected(UservoxMessage.repeatingDigits),
                .rejected(UservoxMessage.invalidPhone),
            ])
    }

    @Test func leadIdsAreInitiatedOnce() {
        var ledger = ProjectLedger()
        _ = process(&ledger, leads([("+15551234567", nil)]), firstId: 7)
        _ = process(&ledger, leads([("+15551234568", nil)]), firstId: 3)
        let outcomes = process(&ledger, .leadIds(["uv_7", "uv_7", "uv_3", "uv_5", "zz"]))
        #expect(
            outcomes == [
                .accepted(id: "uv_7"), .rejected(UservoxMessage.alreadyExists), .accepted(id: "uv_3"),
                .rejected(UservoxMessage.leadNotFound), .rejected(UservoxMessage.leadNotFound),
            ])
    }

    @Test func strikesBlockAndTheBlockEnds() {
        var ledger = ProjectLedger()
        let protection = SimulatorConfiguration.DuplicateProtection(
            strikes: 2, strikeWindow: .seconds(10), blockDuration: .seconds(30))
        let request = leads([("+15551234567", nil)])
        for second in 0..<3 {
            _ = ledger.process(
                request, project: "p1", answered: true, at: t0 + .seconds(second), protection: protection
            ) {
                1
            }
        }
        #expect(ledger.blockedUntil == t0 + .seconds(2) + .seconds(30))
        #expect(
            ledger.receive(at: t0 + .seconds(12), project: project, limit: limit) == .blocked(retryAfter: .seconds(20)))
        #expect(ledger.receive(at: t0 + .seconds(32), project: project, limit: limit) == .admitted)
        #expect(ledger.stats.blocks == 1)
    }

    @Test func strikesOutsideTheirWindowDoNotAddUp() {
        var ledger = ProjectLedger()
        let protection = SimulatorConfiguration.DuplicateProtection(
            strikes: 2, strikeWindow: .seconds(10), blockDuration: .seconds(30))
        let request = leads([("+15551234567", nil)])
        for second in [0, 1, 20] {
            _ = ledger.process(
                request, project: "p1", answered: true, at: t0 + .seconds(second), protection: protection
            ) {
                1
            }
        }
        #expect(ledger.blockedUntil == nil)
    }

    @Test func onlyAnsweredVerdictsMakeAResendCount() {
        var ledger = ProjectLedger()
        let request = leads([("+15551234567", nil)])
        _ = process(&ledger, request, answered: false)  // processed, then answered 500
        _ = process(&ledger, request)  // sent again, but it never had a final answer
        #expect(ledger.stats.resentAfterFinal == 0)
        _ = process(&ledger, request)  // after a 200: a resend
        #expect(ledger.stats.resentAfterFinal == 1)
        ledger.noteReceived(request)  // once more, in a request that is refused
        #expect(ledger.stats.resentAfterFinal == 2)
        #expect(ledger.stats.leadsReceived == 4)
        #expect(ledger.verdicts.count == 1)
        #expect(ledger.verdicts[0].received == 3)
        #expect(ledger.verdicts[0].result == .rejected)
    }

    @Test func aLeadTwiceInOneRequestIsNotAResend() {
        var ledger = ProjectLedger()
        let twice = leads([("+15551234567", nil), ("+15551234567", nil)])
        let outcomes = process(&ledger, twice)
        #expect(outcomes == [.accepted(id: "uv_1"), .rejected(UservoxMessage.alreadyExists)])
        #expect(ledger.stats.resentAfterFinal == 0)
        _ = process(&ledger, twice)
        #expect(ledger.stats.resentAfterFinal == 1)
        #expect(ledger.stats.leadsReceived == 4)
    }
}

@Suite struct BulkRequestTests {
    @Test func leadIdsWinWhenBothArePresent() throws {
        let body = try JSONParser.parse(#"{"leads":[{}],"leadIds":["a"]}"#)
        guard case .success(.leadIds(let ids)) = BulkRequest.parse(body, maxLeads: 10) else {
            Issue.record("expected leadIds")
            return
        }
        #expect(ids == ["a"])
    }

    @Test func identityIsReferenceThenPhone() throws {
        let withReference = IncomingLead(try JSONParser.parse(#"{"referenceId":7,"phone":"+15551234567"}"#))
        #expect(withReference.identity == "r:7")
        let byPhone = IncomingLead(try JSONParser.parse(#"{"phone":"+1 555 123 4567"}"#))
        #expect(byPhone.identity == "p:15551234567")
        #expect(byPhone.phone == .valid(key: "15551234567"))
    }
}

@Suite struct FaultPlanTests {
    @Test func projectScriptsComeBeforeTheSharedOneThenRatesApply() {
        var plan = FaultPlan(SimulatorConfiguration.Faults())
        plan.setScript([.drop, .ok], project: "p1")
        plan.setScript([.serverError], project: nil)
        #expect(plan.next(project: "p1") == .drop)
        #expect(plan.next(project: "p2") == .serverError)
        #expect(plan.next(project: "p1") == .ok)
        #expect(plan.next(project: "p1") == .ok)
    }

    @Test func theSameSeedGivesTheSameFaults() {
        let faults = SimulatorConfiguration.Faults(errorRate: 0.2, dropRate: 0.2, processedThen500Rate: 0.2, seed: 42)
        var first = FaultPlan(faults)
        var second = FaultPlan(faults)
        let a = (0..<200).map { _ in first.next(project: "p1") }
        let b = (0..<200).map { _ in second.next(project: "p1") }
        #expect(a == b)
        for action in [FaultAction.ok, .serverError, .drop, .processedThen500] {
            let share = Double(a.filter { $0 == action }.count) / 200
            #expect(share > 0.1 && share < 0.6, "\(action): \(share)")
        }
    }
}

@Suite struct ConfigurationTests {
    @Test func readsTheDocumentedShape() throws {
        let json = #"""
            {"maxLeadsPerRequest":1000, "rateLimit":{"requests":100,"windowSeconds":5},
             "projects":{"p1":{"token":"tok-p1","active":true,"processes":["proc-a","proc-b"]},
                         "p2":{"token":"tok-p2","active":false,"maxLeadsPerRequest":10,
                               "rateLimit":{"requests":3,"windowSeconds":0.5}},
                         "p3":{"token":"tok-p3","exists":false}},
             "faults":{"errorRate":0.1,"latencyMs":25,"dropRate":0,"processedThen500Rate":0.05,"seed":7},
             "block":{"strikes":3,"strikeWindowSeconds":60,"blockSeconds":30},
             "_comment":"ignored"}
            """#
        let configuration = try SimulatorConfiguration.parse(json: Array(json.utf8))
        #expect(configuration.projects["p1"]?.processes == ["proc-a", "proc-b"])
        #expect(configuration.projects["p2"]?.active == false)
        #expect(configuration.projects["p3"]?.exists == false)
        let p2 = try #require(configuration.projects["p2"])
        #expect(configuration.maxLeads(for: p2) == 10)
        #expect(configuration.rateLimit(for: p2) == .init(requests: 3, window: .milliseconds(500)))
        #expect(configuration.faults.latency == .milliseconds(25))
        #expect(configuration.faults.processedThen500Rate == 0.05)
        #expect(configuration.faults.seed == 7)
        #expect(
            configuration.duplicateProtection
                == .init(strikes: 3, strikeWindow: .seconds(60), blockDuration: .seconds(30)))
    }

    @Test func refusesTyposAndSharedTokens() {
        for json in [
            #"{"maxLeads":5}"#,
            #"{"projects":{"p1":{"token":"a"},"p2":{"token":"a"}}}"#,
            #"{"projects":{"p1":{"tokn":"a"}}}"#,
            #"{"faults":{"errorRate":1.5}}"#,
            #"{"rateLimit":{"requests":0,"windowSeconds":5}}"#,
            "not json",
        ] {
            #expect(throws: SimulatorError.self, "\(json)") { try SimulatorConfiguration.parse(json: Array(json.utf8)) }
        }
    }
}

/// The simulator's own phone rule (`SimulatedPhone`), independent of the product's.
@Suite struct SimulatedPhoneTests {
    @Test func judgesPhonesAsTheAPIReferenceDescribes() {
        #expect(SimulatedPhone.judge("+1 (555) 123-4567")?.key == "15551234567")
        #expect(SimulatedPhone.judge("1.555.123.4567")?.repeatingDigits == false)
        #expect(SimulatedPhone.judge("12345678")?.key == "12345678")
        #expect(SimulatedPhone.judge("123456789012345")?.key == "123456789012345")
        // Bad phones: too short, too long, letters, a `+` after a digit or twice.
        for bad in [
            "1234567", "1234567890123456", "call me", "", "1+5551234567", "++15551234567", "+1 555 123 4567 x2",
        ] {
            #expect(SimulatedPhone.judge(bad) == nil, "\(bad)")
        }
        // Seven of one digit in a row repeat; six do not.
        #expect(SimulatedPhone.judge("+1 555 000 0000")?.repeatingDigits == true)
        #expect(SimulatedPhone.judge("+1 555 000 0001")?.repeatingDigits == false)
        #expect(SimulatedPhone.judge("+1 555 000 0000")?.key == "15550000000")
    }
}
