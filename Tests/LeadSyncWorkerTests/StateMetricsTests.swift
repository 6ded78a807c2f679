import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing

@testable import LeadSyncWorker

/// `/metrics` describes the database at scrape time, not only this process's events.
@Suite struct StateMetricsTests {
    @Test func anIdleWorkerExportsTheDatabasesState() async throws {
        try await TestDatabase.with { db in
            let f = Fixture(db: db)
            try await f.insert(project: "p-bad", count: 4, from: 1)
            try await f.insert(project: "p-held", count: 2, from: 100)
            try await f.insert(project: "p-paused", count: 1, from: 200)
            try await f.insert(project: "p-ready", count: 3, from: 300)
            try await f.insert(project: "p-zready", count: 2, from: 400)
            // What earlier workers and a 403 left behind, written as they write it.
            try await f.execute("UPDATE leadsync.leads SET status = 'invalid' WHERE project_id = 'p-bad'")
            try await f.execute(
                "UPDATE leadsync.leads SET status = 'held', held_reason = 'token_missing' WHERE project_id = 'p-held'")
            try await f.execute(
                "UPDATE leadsync.leads SET status = 'held', held_reason = 'token_mismatch' WHERE project_id = 'p-paused'"
            )
            try await f.execute(
                """
                UPDATE leadsync.projects SET paused = true,
                    pause_reason = 'token_mismatch: projectId does not match authenticated project'
                WHERE project_id = 'p-paused'
                """)
            try await f.execute(
                "UPDATE leadsync.leads SET created_at = now() - interval '300 seconds' WHERE project_id = 'p-ready'")
            try await f.execute(
                "UPDATE leadsync.leads SET created_at = now() - interval '100 seconds' WHERE project_id = 'p-zready'")

            // Serving a project with no leads, against an address nothing listens on: no
            // request is ever made, so every series below comes from the database.
            let port = try PrivateServer.freePort()
            let worker = try await WorkerProcess.start(
                database: db.url, baseURL: "http://127.0.0.1:9", tokens: tokens(["p-none"]),
                arguments: ["--metrics-port", "\(port)", "--project", "p-none"])
            let scrape = MetricsScrape(port: port)
            try await waitUntil("healthy and scraped") {
                if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                return (try? await scrape.samples())?["leadsync_healthy"] == 1
            }
            let text = try await scrape.get("/metrics").body
            let s = MetricsScrape.parse(text)
            #expect(s[#"leadsync_build_info{version="\#(StateMetrics.version)"}"#] == 1)
            #expect(s["leadsync_state_scrape_success"] == 1)
            #expect(s[#"leadsync_project_leads{project="p-bad",state="invalid"}"#] == 4)
            #expect(s[#"leadsync_project_leads{project="p-held",state="held"}"#] == 2)
            #expect(s[#"leadsync_project_leads{project="p-ready",state="pending"}"#] == 3)
            #expect(s[#"leadsync_project_leads{project="p-zready",state="pending"}"#] == 2)
            #expect(s[#"leadsync_held_leads{project="p-held",reason="token_missing"}"#] == 2)
            #expect(s[#"leadsync_held_leads{project="p-paused",reason="token_mismatch"}"#] == 1)
            #expect(s[#"leadsync_project_paused{project="p-paused",reason="token_mismatch"}"#] == 1)
            #expect(s.keys.filter { $0.hasPrefix("leadsync_project_paused{") }.count == 1)
            let readyAge = s[#"leadsync_oldest_ready_lead_age_seconds{project="p-ready"}"#] ?? -1
            #expect((300..<400).contains(readyAge), "\(readyAge)")
            let zAge = s[#"leadsync_oldest_ready_lead_age_seconds{project="p-zready"}"#] ?? -1
            #expect((100..<200).contains(zAge), "\(zAge)")
            #expect(s[#"leadsync_oldest_ready_lead_age_seconds{project="p-bad"}"#] == 0)
            let lag = s[#"leadsync_lag_seconds{project="p-ready"}"#] ?? -1
            #expect((300..<400).contains(lag), "\(lag)")
            #expect(s[#"leadsync_lag_seconds{project="p-held"}"#] == 0)
            #expect((s["process_resident_memory_bytes"] ?? 0) > 1_000_000)
            #expect((s["process_open_fds"] ?? 0) >= 3)
            #expect((s["process_cpu_seconds_total"] ?? 0) > 0)
            #expect((s["process_start_time_seconds"] ?? 0) > Date().timeIntervalSince1970 - 600)
            #expect(!text.contains("leadsync_requests_total"), "no request was made")

            // A database that does not answer costs a scrape at most its statement limit:
            // /metrics still answers, without the database's gauges, and says so.
            try await db.withConnection { c in
                try await c.query("BEGIN", logger: db.logger)
                try await c.query("LOCK TABLE leadsync.lead_counts IN ACCESS EXCLUSIVE MODE", logger: db.logger)
                let clock = ContinuousClock()
                let started = clock.now
                let blocked = try await scrape.get("/metrics")
                let took = clock.now - started
                try await c.query("ROLLBACK", logger: db.logger)
                let b = MetricsScrape.parse(blocked.body)
                #expect(blocked.status == 200)
                #expect(b["leadsync_state_scrape_success"] == 0)
                #expect(b.keys.allSatisfy { !$0.hasPrefix("leadsync_project_leads") })
                #expect(b["leadsync_healthy"] != nil && b["process_open_fds"] != nil)
                #expect(took < .seconds(8), "\(took)")
            }
            #expect(try await scrape.samples()["leadsync_state_scrape_success"] == 1)

            worker.signal(SIGTERM)
            #expect(try await worker.waitForExit() == 0, "\(worker.standardError.suffix(2000))")
        }
    }

    /// Projects past `--metrics-max-projects` share `other`: counts add up, ages take the oldest.
    @Test func projectsPastTheLimitFoldIntoOther() {
        var snapshot = StateSnapshot()
        snapshot.projects = [
            .init(id: "a", paused: false, pauseReason: nil, oldestReadyAge: 5, lag: 5),
            .init(id: "b", paused: true, pauseReason: "token_mismatch: no", oldestReadyAge: 0, lag: 40),
            .init(id: "c", paused: true, pauseReason: "maintenance", oldestReadyAge: 30, lag: 30),
        ]
        snapshot.leadCounts = [("a", "pending", 1), ("b", "held", 2), ("c", "held", 3), ("c", "pending", 4)]
        snapshot.held = [("b", "token_mismatch", 2), ("c", "project_paused", 3)]
        var text = PrometheusText()
        StateMetrics.render(snapshot, labels: SharedProjectLabels(limit: 1), into: &text)
        let s = MetricsScrape.parse(text.text)
        #expect(s[#"leadsync_project_leads{project="a",state="pending"}"#] == 1)
        #expect(s[#"leadsync_project_leads{project="other",state="held"}"#] == 5)
        #expect(s[#"leadsync_project_leads{project="other",state="pending"}"#] == 4)
        #expect(s[#"leadsync_held_leads{project="other",reason="project_paused"}"#] == 3)
        #expect(s[#"leadsync_oldest_ready_lead_age_seconds{project="other"}"#] == 30)
        #expect(s[#"leadsync_lag_seconds{project="other"}"#] == 40)
        #expect(s[#"leadsync_project_paused{project="other",reason="token_mismatch"}"#] == 1)
        #expect(s[#"leadsync_project_paused{project="other",reason="operator"}"#] == 1)
        #expect(!text.text.contains(#"project="b""#) && !text.text.contains(#"project="c""#))
    }

    @Test func pauseReasonsAreBoundedLabels() {
        #expect(StateMetrics.pauseReason("token_mismatch: projectId does not match") == "token_mismatch")
        #expect(StateMetrics.pauseReason("project_inactive: Project is not active") == "project_inactive")
        #expect(StateMetrics.pauseReason("maintenance: until 5pm") == "operator")
        #expect(StateMetrics.pauseReason(nil) == "operator")
    }

    @Test func labelValuesAreEscaped() {
        var text = PrometheusText()
        text.sample("m", [("project", "a\"b\\c\nd")], 2.5)
        #expect(text.text == "m{project=\"a\\\"b\\\\c\\nd\"} 2.5\n")
    }
}
