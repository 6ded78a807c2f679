import AsyncHTTPClient
import LeadSyncCore
import Logging
import Testing
import UservoxSimulator

@testable import UservoxClient

/// The client against `uservox-sim` over a real socket: each row of docs/contract.md §3 that the
/// simulator can produce arrives as the right `APIAnswer`.
@Suite struct ClientAgainstSimulatorTests {
    static let logger = Logger(label: "test")

    func leads(_ project: String, _ phones: [String], process: String? = nil, from id: Int64 = 1) -> BatchPlanner.Batch
    {
        BatchPlanner.Batch(
            mode: .leads, initialize: true,
            leads: phones.enumerated().map {
                Lead(id: id + Int64($0.offset), projectId: project, processId: process, phone: $0.element)
            })
    }

    func withClient<T: Sendable>(
        _ config: SimulatorConfiguration, timeout: Duration = .seconds(5),
        _ body: (UservoxClient, SimulatorEndpoint) async throws -> T
    ) async throws -> T {
        try await UservoxSimulator.withRunning(config) { sim in
            let configuration = UservoxClient.Configuration(baseURL: sim.baseURL, requestTimeout: timeout)
            let http = UservoxClient.makeHTTPClient(configuration)
            do {
                let result = try await body(UservoxClient(configuration: configuration, httpClient: http), sim)
                try await http.shutdown()
                return result
            } catch {
                try? await http.shutdown()
                throw error
            }
        }
    }

    func send(_ client: UservoxClient, _ batch: BatchPlanner.Batch, token: String) async -> APIAnswer {
        await client.send(batch: batch, body: RequestBody.encode(batch), token: token, logger: Self.logger).answer
    }

    static let config = SimulatorConfiguration(projects: [
        .init(id: "p1", token: "tok-p1", processes: ["a", "b"]),
        .init(id: "p2", token: "tok-p2"),
        .init(id: "off", token: "tok-off", active: false),
    ])

    @Test func acceptedAndRejectedLeadsMatchTheirRows() async throws {
        try await withClient(Self.config) { client, _ in
            // First call: accepted, each with the id Uservox gave it.
            let first = await send(
                client, leads("p1", ["+14155550001", "+14155550002"], process: "a"), token: "tok-p1")
            guard case .processed(let answers) = first else { Issue.record("\(first)"); return }
            #expect(answers.count == 2)
            for answer in answers.values {
                guard case .accepted(let remoteId?) = answer, remoteId.hasPrefix("uv_") else {
                    Issue.record("\(answer)")
                    return
                }
            }
            // Then the rejections, with the API's messages verbatim.
            let second = await send(
                client,
                leads(
                    "p1", ["+14155550001", "+14155550002", "+14150000000", "not-a-phone", "+14155559999"], process: "b",
                    from: 10),
                token: "tok-p1")
            guard case .processed(let verdicts) = second else { Issue.record("\(second)"); return }
            #expect(
                verdicts[10]
                    == .rejected(message: "A call attempt has already been made to this phone number for this project"))
            #expect(verdicts[12] == .rejected(message: "Phone number contains repeating digits pattern"))
            #expect(verdicts[13].map { if case .rejected = $0 { true } else { false } } == true)
            #expect(verdicts[14].map { if case .accepted = $0 { true } else { false } } == true)
            let third = await send(client, leads("p1", ["+14155559999"], process: "b", from: 20), token: "tok-p1")
            #expect(third == .processed([20: .rejected(message: "Lead already exists for this project and process")]))
        }
    }

    @Test func tooManyLeads() async throws {
        var config = Self.config
        config.maxLeadsPerRequest = 3
        try await withClient(config) { client, _ in
            let answer = await send(client, leads("p2", (1...4).map { "+1415555100\($0)" }), token: "tok-p2")
            #expect(answer == .batchTooLarge(maximum: 3, message: "Maximum of 3 leads allowed per request"))
        }
    }

    @Test func forbiddenAnswers() async throws {
        try await withClient(Self.config) { client, _ in
            let mismatch = await send(client, leads("p1", ["+14155552001"]), token: "tok-p2")
            #expect(mismatch == .forbidden(.projectMismatch, message: "Some leads have missing or invalid projectId"))
            guard
                case .forbidden(.projectInactive, _) = await send(
                    client, leads("off", ["+14155552002"]), token: "tok-off")
            else {
                Issue.record("inactive project")
                return
            }
            guard case .forbidden(.unauthorized, _) = await send(client, leads("p1", ["+14155552003"]), token: "wrong")
            else {
                Issue.record("unknown token")
                return
            }
        }
    }

    @Test func unknownProcess() async throws {
        try await withClient(Self.config) { client, _ in
            let answer = await send(client, leads("p1", ["+14155553001"], process: "ghost"), token: "tok-p1")
            #expect(
                answer
                    == .processNotFound(processId: "ghost", message: "Process not found for lead with processId: ghost")
            )
        }
    }

    @Test func rateLimitedWithRetryAfter() async throws {
        var config = Self.config
        config.rateLimit = .init(requests: 1, window: .seconds(60))
        try await withClient(config) { client, _ in
            _ = await send(client, leads("p2", ["+14155554001"]), token: "tok-p2")
            let answer = await send(client, leads("p2", ["+14155554002"]), token: "tok-p2")
            guard case .rateLimited(let retryAfter?, _) = answer else { Issue.record("\(answer)"); return }
            #expect(retryAfter > .zero && retryAfter <= .seconds(60))
        }
    }

    @Test func faultsBecomeAmbiguousOrNotSent() async throws {
        // Under the whole suite the simulator's drop has been seen not to reach the client
        // within 10 s (a worker test's timeout): the drop must come out ambiguous, as a lost
        // connection or, then, a timeout. The hang, which must reach its deadline, is the next test.
        try await withClient(Self.config, timeout: .seconds(15)) { client, sim in
            sim.simulator.setFaultScript([.serverError, .processedThen500, .drop], project: "p2")
            let batch = leads("p2", ["+14155555001"])
            let failed = await send(client, batch, token: "tok-p2")
            guard case .serverError(500, _) = failed else { Issue.record("500: \(failed)"); return }
            let processed = await send(client, batch, token: "tok-p2")
            guard case .serverError(500, _) = processed else {
                Issue.record("processed then 500: \(processed)"); return
            }
            let dropped = await send(client, batch, token: "tok-p2")
            switch dropped {
            case .connectionLost, .timeout: break
            default: Issue.record("drop: \(dropped)"); return
            }
            #expect(dropped.isAmbiguous)
            #expect(sim.simulator.stats().projects["p2"]?.accepted == 1)
        }
    }

    @Test func aHangBecomesAnAmbiguousTimeout() async throws {
        var config = Self.config
        config.faults.hang = .seconds(600)
        try await withClient(config, timeout: .seconds(1)) { client, sim in
            sim.simulator.setFaultScript([.hang], project: "p2")
            let hung = await send(client, leads("p2", ["+14155555001"]), token: "tok-p2")
            guard case .timeout = hung else { Issue.record("hang: \(hung)"); return }
            #expect(hung.isAmbiguous)
        }
    }

    @Test func nothingListeningIsNotSent() async throws {
        let configuration = UservoxClient.Configuration(baseURL: "http://127.0.0.1:1", requestTimeout: .seconds(2))
        let http = UservoxClient.makeHTTPClient(configuration)
        let answer = await send(
            UservoxClient(configuration: configuration, httpClient: http), leads("p", ["+14155556001"]), token: "t")
        try await http.shutdown()
        guard case .notSent = answer else { Issue.record("\(answer)"); return }
        #expect(!answer.isAmbiguous)
    }

    @Test func leadIdsMode() async throws {
        try await withClient(Self.config) { client, _ in
            guard case .processed(let first) = await send(client, leads("p2", ["+14155557001"]), token: "tok-p2"),
                case .accepted(let remoteId?) = first[1]
            else {
                Issue.record("setup")
                return
            }
            let batch = BatchPlanner.Batch(
                mode: .leadIds, initialize: true,
                leads: [
                    Lead(id: 5, projectId: "p2", remoteLeadId: remoteId),
                    Lead(id: 6, projectId: "p2", remoteLeadId: "uv_does_not_exist"),
                ])
            let answer = await send(client, batch, token: "tok-p2")
            #expect(answer == .processed([5: .accepted(remoteId: remoteId), 6: .rejected(message: "Lead not found")]))
        }
    }

    /// docs/contract.md §3: one deadline covers the body too. A body that stalls after the
    /// headers ends as a timeout (ambiguous) at the deadline, not when the server gives up.
    @Test func aBodyThatStallsAfterTheHeadersTimesOut() async throws {
        try await withClient(Self.config, timeout: .seconds(1)) { client, sim in
            sim.simulator.setHostileScript([.stallBody(prefix: #"{"success":["#, stall: .seconds(120))], project: "p2")
            let started = ContinuousClock.now
            let answer = await send(client, leads("p2", ["+14155558001"]), token: "tok-p2")
            guard case .timeout = answer else {
                Issue.record("\(answer)")
                return
            }
            // Well before the stall ends (the server would close at 120 s).
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }

    /// An answer larger than the cap is not read: unreadable, like a 5xx (ambiguous).
    @Test func anAnswerLargerThanTheCapIsUnreadable() async throws {
        try await UservoxSimulator.withRunning(Self.config) { sim in
            let configuration = UservoxClient.Configuration(
                baseURL: sim.baseURL, requestTimeout: .seconds(10), maxAnswerBytes: 64 * 1024)
            let http = UservoxClient.makeHTTPClient(configuration)
            let client = UservoxClient(configuration: configuration, httpClient: http)
            sim.simulator.setHostileScript(
                [
                    .raw(
                        status: 200,
                        body: Array(("{\"success\":[\"" + String(repeating: "x", count: 100_000) + "\"]}").utf8))
                ],
                project: "p2")
            let answer = await send(client, leads("p2", ["+14155558002"]), token: "tok-p2")
            try await http.shutdown()
            guard case .badResponse = answer else {
                Issue.record("\(answer)")
                return
            }
            #expect(answer.isAmbiguous)
        }
    }
}
