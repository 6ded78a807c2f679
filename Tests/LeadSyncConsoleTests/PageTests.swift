import Foundation
import LeadSyncAdmin
import LeadSyncConsole
import LeadSyncStore
import LeadSyncTesting
import Testing
import WireJSON

/// Every page against a seeded real PostgreSQL: status codes, the figures equal to the
/// tables' counts, and hostile project ids and API messages printed as text.
@Suite struct PageTests {
    static let hostileEscaped = HTMLText.escape(ConsoleSeed.hostileProject)

    /// No page ever carries the seed's hostile strings as markup.
    static func expectNoInjection(_ page: Page, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!page.text.contains("<script>alert"), sourceLocation: sourceLocation)
        #expect(!page.text.contains("<img src=x"), sourceLocation: sourceLocation)
        #expect(!page.text.contains("<b>inactive"), sourceLocation: sourceLocation)
        #expect(!page.text.contains("<html>upstream"), sourceLocation: sourceLocation)
    }

    @Test func overviewShowsEveryProjectWorstFirstWithTheTablesCounts() async throws {
        try await ConsoleSeed.with { db in
            // The console's clock pinned, so windows counted here and there are the same.
            let now = Date()
            let page = try await withConsole(db, now: now) { try await $0.get("/") }
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            Self.expectNoInjection(page)
            for project in ["acme", "beta", ConsoleSeed.hostileProject, "gamma"] {
                let expected = try await ExpectedCounts.of(project, in: db)
                #expect(page.cell(project: project, "pending") == Figures.count(expected.pending), "\(project)")
                #expect(page.cell(project: project, "retrying") == Figures.count(expected.retrying), "\(project)")
                #expect(page.cell(project: project, "in_flight") == Figures.count(expected.inFlight), "\(project)")
                #expect(page.cell(project: project, "submitted") == Figures.count(expected.submitted), "\(project)")
                #expect(page.cell(project: project, "invalid") == Figures.count(expected.invalid), "\(project)")
                #expect(page.cell(project: project, "held") == Figures.count(expected.held), "\(project)")
            }
            // acme's in-flight pair and its retries are apart from pending (docs/contract.md §7.4).
            #expect(page.cell(project: "acme", "in_flight") == "2")
            #expect(page.cell(project: "acme", "retrying") == "5")
            // 12 requests of 25 leads in the last minute, plus the open one of 2 leads.
            let lastMinute = try await db.count(
                "SELECT count(*) FROM leadsync.submission_attempts WHERE project_id = 'acme' AND started_at >= to_timestamp(\(now.timeIntervalSince1970)) - interval '1 minute'"
            )
            #expect(page.cell(project: "acme", "requests_per_second") == Figures.rate(Double(lastMinute) / 60))
            // Totals over every project.
            let submitted = try await db.count("SELECT count(*) FROM leadsync.leads WHERE status = 'submitted'")
            #expect(page.cell(project: "", "submitted") == Figures.count(submitted))
            // Worst first: the three breached projects above gamma, which is fine.
            let order = ["beta", "acme", ConsoleSeed.hostileProject, "gamma"].map {
                page.text.range(of: "data-project=\"\(HTMLText.escape($0))\"")?.lowerBound
            }
            #expect(order.allSatisfy { $0 != nil })
            #expect(order.compactMap { $0 }.last == order[3])
            #expect(page.text.contains(#"<tr class="ok" data-project="gamma">"#))
            // The hostile id and pause reason are text.
            #expect(page.text.contains(">\(Self.hostileEscaped)</a>"))
            #expect(page.text.contains("paused: \(HTMLText.escape(ConsoleSeed.hostileReason))"))
        }
    }

    @Test func bannerListsTheBreachesReportCheckFinds() async throws {
        try await ConsoleSeed.with { db in
            // One instant for both, so a lag cannot cross a minute between them.
            let now = Date()
            let report = try await db.withConnection { c in
                try await ReportLoader(logger: db.logger).load(
                    on: c, project: nil, since: .seconds(3600), sinceText: "1h", now: now)
            }
            let breaches = ConsoleConfiguration.defaultThresholds.breaches(in: report)
            #expect(!breaches.isEmpty)
            let page = try await withConsole(db, now: now) { try await $0.get("/") }
            #expect(page.text.contains(#"<div class="banner bad" role="alert" id="breaches">"#))
            for breach in breaches { #expect(page.text.contains("<li>\(HTMLText.escape(breach.description))</li>")) }
            #expect(page.count("<li>--max-") == breaches.count)
        }
    }

    @Test func overviewWithoutBreachesSaysSo() async throws {
        try await TestDatabase.with { db in
            let empty = try await withConsole(db) { try await $0.get("/") }
            #expect(empty.status == .ok)
            #expect(empty.text.contains("No projects yet"))
            try await db.withConnection { c in
                try await c.query(
                    "INSERT INTO leadsync.leads (project_id, phone, status, submitted_at) VALUES ('calm', '+14155550100', 'submitted', now())",
                    logger: db.logger)
            }
            let page = try await withConsole(db) { try await $0.get("/") }
            #expect(page.text.contains("All checks pass"))
            #expect(page.cell(project: "calm", "submitted") == "1")
        }
    }

    @Test func projectPageShowsFiguresChartsAndTheLast50Requests() async throws {
        try await ConsoleSeed.with { db in
            let now = Date()
            let page = try await withConsole(db, now: now) { try await $0.get("/project?id=acme") }
            #expect(page.status == .ok)
            let expected = try await ExpectedCounts.of("acme", in: db)
            #expect(page.value(attribute: #"data-figure="pending""#) == Figures.count(expected.pending))
            #expect(page.value(attribute: #"data-figure="held""#) == Figures.count(expected.held))
            #expect(page.value(attribute: #"data-figure="invalid""#) == Figures.count(expected.invalid))
            #expect(page.value(attribute: #"data-figure="submitted""#) == Figures.count(expected.submitted))
            // Four time charts and two bar charts, each an accessible SVG.
            #expect(page.count(#"<svg class="chart"#) == 7)
            #expect(page.count(#"role="img""#) == 7)
            #expect(page.text.contains("100 requests per 5s (20/s)"))
            // Requests in the last hour, by the same rule as the chart's summary.
            let hour = try await db.count(
                "SELECT count(*) FROM leadsync.submission_attempts WHERE project_id = 'acme' AND started_at >= to_timestamp(\(now.timeIntervalSince1970)) - interval '1 hour'"
            )
            #expect(page.text.contains("\(Figures.count(hour)) requests in the last hour"))
            // The 429s and 5xx of the day appear as series of the stacked chart.
            #expect(page.text.contains(#"<rect class="c-429""#))
            #expect(page.text.contains(#"<rect class="c-5xx""#))
            // Held and invalid by reason, as the tables count them.
            #expect(page.text.contains(">bad_request</text>"))
            #expect(page.text.contains(">retries_exhausted</text>"))
            #expect(page.count("<tr data-attempt=") == 50)
            #expect(page.text.contains(#"<tr data-attempt="999">"#))
            Self.expectNoInjection(page)
            // No actions without a token.
            #expect(!page.text.contains("/actions/"))
        }
    }

    @Test func hostileProjectPageIsText() async throws {
        try await ConsoleSeed.with { db in
            let page = try await withConsole(db) {
                try await $0.get("/project?id=" + HTMLText.queryComponent(ConsoleSeed.hostileProject))
            }
            #expect(page.status == .ok)
            #expect(page.text.contains("<h1>\(Self.hostileEscaped)</h1>"))
            #expect(page.text.contains(HTMLText.escape(#"<img src=x onerror="alert('attempt')">"#)))
            Self.expectNoInjection(page)
            let missing = try await withConsole(db) { try await $0.get("/project?id=nope%3Cb%3E") }
            #expect(missing.status == .notFound)
            #expect(missing.text.contains("no project &#39;nope&lt;b&gt;&#39;"))
            let none = try await withConsole(db) { try await $0.get("/project") }
            #expect(none.status == .badRequest)
        }
    }

    @Test func leadPageByIdReferencePhoneAndWireReference() async throws {
        try await ConsoleSeed.with { db in
            try await withConsole(db) { client in
                let lead = try await client.get("/lead?id=326")
                #expect(lead.status == .ok)
                #expect(lead.text.contains(#"<span class="pill bad" id="status">invalid</span>"#))
                #expect(lead.text.contains("api_duplicate_call"))
                #expect(lead.text.contains(#"<a href="/lead?id=400">replaced by lead 400 (pending)</a>"#))
                #expect(lead.text.contains(#"<table id="history">"#))
                #expect(lead.text.contains("A call attempt has already been made"))
                let copy = try await client.get("/lead?id=400")
                #expect(copy.text.contains("a corrected copy of lead 326"))
                for query in ["crm-1", "%2B1+%28415%29+555-0001", "ls-1", "1"] {
                    let found = try await client.get("/lead?q=\(query)")
                    #expect(found.status == .ok, "\(query)")
                    #expect(found.text.contains("<h1>Lead 1 "), "\(query)")
                }
                let hostile = try await client.get("/lead?id=360")
                #expect(hostile.text.contains(HTMLText.escape(ConsoleSeed.hostileMessage)))
                Self.expectNoInjection(hostile)
                let none = try await client.get("/lead?q=%3Cscript%3Enothing")
                #expect(none.status == .notFound)
                #expect(none.text.contains("&lt;script&gt;nothing"))
                #expect(try await client.get("/lead?id=99999").status == .notFound)
                #expect(try await client.get("/lead?id=abc").status == .badRequest)
            }
        }
    }

    @Test func invalidListPagesByIdAndFiltersAndEscapes() async throws {
        try await ConsoleSeed.with { db in
            try await withConsole(db, pageSize: 5) { client in
                let first = try await client.get("/invalid")
                #expect(first.status == .ok)
                let total = try await db.count("SELECT count(*) FROM leadsync.invalid_leads")
                #expect(first.text.contains("newest first, \(total) in all"))
                #expect(first.count("<tr data-lead=") == 5)
                #expect(first.text.contains(#"<tr data-lead="361">"#))
                Self.expectNoInjection(first)
                #expect(first.text.contains(HTMLText.escape(ConsoleSeed.hostileMessage)))
                // Keyset: the next page starts below the last id shown, nothing twice.
                #expect(first.text.contains(#"href="/invalid?before=335" id="next""#))
                let second = try await client.get("/invalid?before=335")
                #expect(second.count("<tr data-lead=") == 5)
                #expect(second.text.contains(#"<tr data-lead="334">"#))
                #expect(!second.text.contains(#"<tr data-lead="335">"#))
                let filtered = try await client.get("/invalid?project=acme&reason=local_invalid_phone")
                let expected = try await db.count(
                    "SELECT count(*) FROM leadsync.invalid_leads WHERE project_id = 'acme' AND reason = 'local_invalid_phone'"
                )
                #expect(filtered.count("<tr data-lead=") == expected)
                #expect(
                    filtered.text.contains(#"<strong data-reason-count="local_invalid_phone">\#(expected)</strong>"#))
                #expect(!filtered.text.contains("api_duplicate_call</td>"))
                let unknown = try await client.get("/invalid?project=nope")
                #expect(unknown.status == .notFound)
            }
        }
    }

    @Test func heldListAndItsExportsMatchTheCLIFormats() async throws {
        try await ConsoleSeed.with { db in
            try await withConsole(db) { client in
                let page = try await client.get("/held")
                #expect(page.status == .ok)
                let held = try await db.count("SELECT count(*) FROM leadsync.leads WHERE status = 'held'")
                #expect(page.count("<tr data-lead=") == held)
                #expect(page.text.contains(#"<strong data-reason-count="project_inactive">3</strong>"#))
                let beta = try await client.get("/held?project=beta&reason=project_inactive")
                #expect(beta.count("<tr data-lead=") == 3)

                let csv = try await client.get("/held.csv?project=acme")
                #expect(csv.status == .ok)
                #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
                #expect(csv.headers[.contentDisposition] == "attachment; filename=\"held.csv\"")
                let lines = csv.text.split(separator: "\r\n")
                #expect(lines.first.map(String.init) == HeldList.csvHeader.trimmingCharacters(in: .newlines))
                #expect(lines.count == 1 + 4)
                let json = try await client.get("/held.json?reason=project_inactive")
                guard case .array(let items) = try JSONParser.parse(json.text) else {
                    Issue.record("not a JSON array: \(json.text)")
                    return
                }
                #expect(items.count == 3)
            }
        }
    }

    @Test func invalidExportIsTheCLIsOutput() async throws {
        try await ConsoleSeed.with { db in
            let (csv, json) = try await withConsole(db) { client in
                (try await client.get("/invalid.csv?project=acme"), try await client.get("/invalid.json"))
            }
            // The CLI's own formatting of the same rows.
            var expected = InvalidList.csvHeader
            try await db.withConnection { c in
                try await InvalidList(logger: db.logger).forEach(on: c, filter: .init(project: "acme")) {
                    expected += InvalidList.csvRow($0)
                }
            }
            #expect(csv.text == expected)
            guard case .array(let items) = try JSONParser.parse(json.text) else {
                Issue.record("not a JSON array")
                return
            }
            #expect(items.count == (try await db.count("SELECT count(*) FROM leadsync.invalid_leads")))
            #expect(json.headers[.contentType] == "application/json")
            // A hostile message travels verbatim in an export (it is data, not a page).
            #expect(json.text.contains("onerror"))
        }
    }

    @Test func readOnlyConsoleRefusesEveryPost() async throws {
        try await ConsoleSeed.with { db in
            try await withConsole(db) { client in
                for action in ["pause", "resume", "release", "resubmit"] {
                    let page = try await client.post(
                        "/actions/\(action)", form: "project=acme&id=327&csrf=\(csrf())", headers: signedIn())
                    #expect(page.status == .forbidden, "\(action)")
                    #expect(page.text.contains("read-only"))
                }
                #expect(try await client.post("/login", form: "token=\(consoleToken)").status == .forbidden)
                #expect(try await client.get("/login").status == .forbidden)
            }
            #expect(try await db.count("SELECT count(*) FROM leadsync.projects WHERE paused") == 1)
            #expect(try await db.count("SELECT count(*) FROM leadsync.leads WHERE resubmit_of = 327") == 0)
        }
    }

    @Test func assetsAndHealth() async throws {
        try await TestDatabase.with { db in
            try await withConsole(db) { client in
                let css = try await client.get("/assets/console.css")
                #expect(css.headers[.contentType] == "text/css; charset=utf-8")
                #expect(css.text.contains("prefers-color-scheme: dark"))
                #expect(try await client.get("/assets/console.js").text.contains("DOMParser"))
                #expect(try await client.get("/healthz").status == .ok)
                #expect(try await client.get("/nothing").status == .notFound)
            }
        }
    }
}
