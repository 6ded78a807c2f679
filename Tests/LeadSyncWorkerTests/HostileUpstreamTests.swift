import Foundation
import LeadSyncCore
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator

/// docs/contract.md §3, last paragraph: for any answer the network can produce the worker
/// stays up, other projects keep going, and every affected lead reaches a known state.
/// The worker in-process (`withInProcessWorker`), a real PostgreSQL, `uservox-sim` over a socket.
@Suite(.serialized) struct HostileUpstreamTests {
    /// Leads of `project` are sent within seconds while the worker runs: it is not wedged.
    func expectStillServing(_ f: Fixture, project: String, from: Int) async throws {
        try await f.insert(project: project, count: 20, from: from)
        try await waitUntil("\(project)'s new leads submitted", timeout: .seconds(20)) {
            try await f.int(
                "SELECT count(*)::int8 FROM leadsync.leads WHERE project_id = \(project) AND status = 'submitted'")
                >= 20
        }
    }

    @Test func anAbsurdRetryAfterIsTheDefaultBackOffNotACrash() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1", "p2"])) { sim in
                let f = Fixture(db: db)
                sim.simulator.setHostileScript([.rateLimited(retryAfter: "inf")], project: "p1")
                try await f.insert(project: "p1", count: 50)
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"])) { _ in
                    try await expectStillServing(f, project: "p2", from: 1000)
                    try await f.waitUntilNothingPending(timeout: .seconds(30))
                }
                #expect(try await f.states() == ["submitted": 70])
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE outcome = 'rate_limited'") == 1)
            }
        }
    }

    /// NULs and oversized messages in error answers are stored cleaned; no write-back
    /// retries forever, no request slot is held, a healthy project's leads still go.
    @Test func unstorableMessagesNeitherWedgeNorLoseLeads() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1", "p2", "p3"])) { sim in
                let f = Fixture(db: db)
                try await f.execute("INSERT INTO leadsync.projects (project_id, max_batch_size) VALUES ('p1', 100)")
                sim.simulator.setHostileScript(
                    Array(repeating: .error(status: 400, message: "bad\u{0}request\u{0}"), count: 3), project: "p1")
                let combining = "e" + String(repeating: "\u{0301}", count: 5000)
                sim.simulator.setHostileScript(
                    [.error(status: 500, message: combining), .error(status: 503, message: "a\u{0}b")], project: "p3")
                try await f.insert(project: "p1", count: 300)
                try await f.insert(project: "p3", count: 10, from: 5000)
                // Two request slots: three answers that could not be written would hold both.
                var configuration = testWorkerConfiguration()
                configuration.maxConcurrentRequests = 2
                try await withInProcessWorker(
                    db: db, baseURL: sim.baseURL, tokens: tokens(["p1", "p2", "p3"]), configuration: configuration
                ) { _ in
                    try await f.waitUntilNothingPending(timeout: .seconds(30))
                    try await expectStillServing(f, project: "p2", from: 1000)
                }

                #expect(try await f.states(project: "p1") == ["held/bad_request": 300])
                #expect(try await f.states(project: "p3") == ["submitted": 10])
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.leads WHERE project_id = 'p1' AND last_error = 'badrequest'"
                    )
                        == 300)
                #expect(
                    try await f.int(
                        "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE error LIKE 'badrequest%'") == 3)
                #expect(
                    try await f.int(
                        "SELECT max(octet_length(error))::int8 FROM leadsync.submission_attempts WHERE project_id = 'p3'"
                    )
                        <= StorableText.attemptErrorBytes)
                #expect(
                    try await f.int("SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE finished_at IS NULL")
                        == 0)
            }
        }
    }

    /// Headers, a few bytes, then silence: the request times out at its deadline, its
    /// leads are retried and submitted, and no attempt is abandoned under a live worker.
    @Test func aStalledBodyTimesOutAndItsLeadsAreRetried() async throws {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1", "p2"])) { sim in
                let f = Fixture(db: db)
                sim.simulator.setHostileScript(
                    [.stallBody(prefix: #"{"success":[{"id":"#, stall: .seconds(120))], project: "p1")
                try await f.insert(project: "p1", count: 40)
                try await withInProcessWorker(
                    db: db, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"]),
                    configuration: testWorkerConfiguration(requestTimeout: .seconds(2), lease: .seconds(4))
                ) { _ in
                    try await f.waitUntilNothingPending(timeout: .seconds(40))
                    try await expectStillServing(f, project: "p2", from: 1000)
                }
                #expect(try await f.states(project: "p1") == ["submitted": 40])
                let outcomes = try await db.withConnection { c in
                    try await c.query(
                        "SELECT outcome FROM leadsync.submission_attempts WHERE project_id = 'p1' ORDER BY id",
                        logger: db.logger
                    ).collect().map { try $0.decode(String.self) }
                }
                #expect(outcomes.first == "timeout", "\(outcomes)")
                #expect(!outcomes.contains("abandoned"), "\(outcomes)")
                #expect(sim.simulator.stats().totals.resentAfterFinal == 0)
            }
        }
    }

    /// A lead larger than the project's byte budget is invalid locally, never sent; one
    /// that fits the budget but not the upstream's limit is answered 413 alone and becomes
    /// invalid; the others go in smaller requests; no configured limit changes.
    @Test func largeLeadsEndInvalidAndNothingShrinksForGood() async throws {
        var config = SimulatorConfiguration.projects(["p1", "p2"])
        config.maxRequestBytes = 2048  // a proxy's body limit, far below the project's budget
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(config) { sim in
                let f = Fixture(db: db)
                try await f.execute(
                    "INSERT INTO leadsync.projects (project_id, max_request_bytes) VALUES ('p1', 8192)")
                try await f.insert(project: "p1", count: 500)
                // 12 KB of metadata: over the budget alone. 3 KB: within it, over the proxy's limit.
                try await f.execute(
                    """
                    INSERT INTO leadsync.leads (project_id, phone, metadata) VALUES
                        ('p1', '+14159990001', jsonb_build_object('x', repeat('y', 12000))),
                        ('p1', '+14159990002', jsonb_build_object('x', repeat('z', 3000)))
                    """)
                try await withInProcessWorker(db: db, baseURL: sim.baseURL, tokens: tokens(["p1", "p2"])) { _ in
                    try await f.waitUntilNothingPending(timeout: .seconds(60))
                    try await expectStillServing(f, project: "p2", from: 1000)
                }

                #expect(try await f.states(project: "p1") == ["submitted": 500, "invalid": 2])
                let reasons = try await db.withConnection { c in
                    try await c.query(
                        "SELECT reason || '/' || source FROM leadsync.invalid_leads ORDER BY lead_id", logger: db.logger
                    ).collect().map { try $0.decode(String.self) }
                }
                #expect(reasons == ["local_lead_too_large/local", "api_rejected/api"])
                let limits = try await db.withConnection { c in
                    try await c.query(
                        "SELECT max_batch_size || '/' || max_request_bytes FROM leadsync.projects WHERE project_id = 'p1'",
                        logger: db.logger
                    ).collect().map { try $0.decode(String.self) }
                }
                #expect(limits == ["1000/8192"])
                // A few halvings of the byte budget, then restores: bounded, never a loop.
                let tooLarge = try await f.int(
                    "SELECT count(*)::int8 FROM leadsync.submission_attempts WHERE http_status = 413")
                #expect(tooLarge >= 2 && tooLarge <= 30, "\(tooLarge)")
                #expect(sim.simulator.stats().totals.resentAfterFinal == 0)
            }
        }
    }
}
