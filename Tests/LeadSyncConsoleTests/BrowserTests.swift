import Foundation
import LeadSyncConsole
import LeadSyncStore
import LeadSyncTesting
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Headless Chromium (Debian's `chromium`, installed by scripts/test.sh when missing) against
/// the built `leadsync console` on a seeded database: every page loads, its DOM holds the
/// tables' figures after the live refresh ran, the browser logs no console message (no
/// script error, no refused resource), and a screenshot of each page is written to
/// `.tmp/console-screenshots/` for people to look at.
@Suite struct BrowserTests {
    static let chromium: String? = {
        if let path = ProcessInfo.processInfo.environment["LEADSYNC_CHROMIUM"] { return path }
        return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }()

    static let screenshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".tmp/console-screenshots")

    struct Visit {
        var dom: String
        var log: String
    }

    /// Loads `url` in a fresh headless browser; with a virtual-time budget, timers (the live
    /// refresh) run before the DOM is dumped.
    static func visit(_ url: String, screenshot: String? = nil, size: String = "1440,1000", dark: Bool = false)
        async throws -> Visit
    {
        guard let chromium else { throw WaitTimedOut(description: "no chromium") }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        var arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=\(profile.path)", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
            "--window-size=\(size)",
        ]
        if dark { arguments.append("--force-dark-mode") }
        if let screenshot {
            arguments.append("--screenshot=\(screenshots.appendingPathComponent(screenshot).path)")
        } else {
            arguments += ["--virtual-time-budget=5000", "--dump-dom"]
        }
        let process = try ManagedProcess(chromium, arguments: arguments + [url], environment: [:])
        let status = try await process.waitForExit(timeout: .seconds(90))
        #expect(status == 0, "chromium exited \(status): \(process.standardError)")
        return Visit(dom: process.standardOutput, log: process.standardError)
    }

    /// Lines in which the page itself spoke: console messages, uncaught errors, CSP refusals.
    static func pageMessages(_ log: String) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
    }

    static func startConsole(_ url: DatabaseURL, arguments: [String] = [], environment: [String: String] = [:])
        async throws -> (ManagedProcess, String)
    {
        let process = try ManagedProcess(
            ProductBinary.path("leadsync"),
            arguments: ["console", "--port", "0", "--refresh", "2"] + arguments,
            environment: ["DATABASE_URL": url.urlString, "LOG_LEVEL": "info"].merging(environment) { $1 })
        try await waitUntil("the console listens", timeout: .seconds(30)) {
            process.standardOutput.contains("listening on") || !process.isRunning
        }
        guard let line = process.standardOutput.split(separator: "\n").first(where: { $0.contains("listening on") }),
            let base = line.split(separator: " ").first(where: { $0.hasPrefix("http://") })
        else {
            throw WaitTimedOut(description: "console did not start: \(process.standardError)")
        }
        return (process, String(base))
    }

    @Test(
        .enabled(
            if: chromium != nil,
            "SKIPPED: chromium is not installed and could not be (scripts/test.sh runs apt-get install chromium)"))
    func everyPageLoadsInChromiumWithTheFiguresAndNoConsoleErrors() async throws {
        try FileManager.default.createDirectory(at: Self.screenshots, withIntermediateDirectories: true)
        try await ConsoleSeed.with { db in
            try await db.withLoginRole(memberOf: "leadsync_reader") { reader in
                let (console, base) = try await Self.startConsole(reader)
                defer { console.signal(SIGTERM) }
                let acme = try await ExpectedCounts.of("acme", in: db)
                let invalid = try await db.count("SELECT count(*) FROM leadsync.invalid_leads")
                let held = try await db.count("SELECT count(*) FROM leadsync.leads WHERE status = 'held'")
                let pages: [(name: String, path: String, expect: [String])] = [
                    (
                        "overview", "/",
                        [
                            #"data-project="acme""#, #"data-col="pending">\#(acme.pending)<"#,
                            #"data-col="held">\#(acme.held)<"#, #"data-col="submitted">\#(acme.submitted)<"#,
                            "Check breached", #"id="live-toggle" class="live">"#,
                        ]
                    ),
                    (
                        "project", "/project?id=acme",
                        [
                            #"data-figure="pending">\#(acme.pending)<"#, #"data-figure="held">\#(acme.held)<"#,
                            "<svg class=\"chart\"", "Last 50 requests",
                        ]
                    ),
                    ("lead", "/lead?id=326", ["Lead 326", "api_duplicate_call", "replaced by lead 400"]),
                    ("invalid", "/invalid", ["\(invalid) in all", #"<tr data-lead="361">"#]),
                    ("held", "/held", ["\(held) in all", #"<tr data-lead="350">"#]),
                    (
                        "hostile-project", "/project?id=" + HTMLText.queryComponent(ConsoleSeed.hostileProject),
                        ["&lt;script&gt;alert(\"id\")&lt;/script&gt;"]
                    ),
                ]
                for page in pages {
                    let visit = try await Self.visit(base + page.path)
                    for needle in page.expect {
                        #expect(visit.dom.contains(needle), "\(page.name): \(needle) not in the DOM")
                    }
                    // Nothing the seed's hostile text carries became an element.
                    #expect(!visit.dom.contains("<script>alert"), "\(page.name)")
                    #expect(!visit.dom.contains("<img src=\"x\""), "\(page.name)")
                    #expect(Self.pageMessages(visit.log).isEmpty, "\(page.name): \(Self.pageMessages(visit.log))")
                    _ = try await Self.visit(base + page.path, screenshot: "\(page.name).png")
                    #expect(
                        FileManager.default.fileExists(
                            atPath: Self.screenshots.appendingPathComponent("\(page.name).png").path))
                }
                // On a phone, and in the dark.
                _ = try await Self.visit(base + "/", screenshot: "overview-phone.png", size: "390,844")
                _ = try await Self.visit(base + "/project?id=acme", screenshot: "project-dark.png", dark: true)
            }
        }
    }

    /// The command end to end with actions: a token file, a real sign-in, an action, its log line.
    @Test func consoleCommandSignsInActsAndLogsWithoutTheToken() async throws {
        try await ConsoleSeed.with { db in
            let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("console-token-\(UUID())")
            try Data("\(consoleToken)\n".utf8).write(to: tokenFile)
            defer { try? FileManager.default.removeItem(at: tokenFile) }
            // A token file others can read is refused, like the tokens file.
            chmod(tokenFile.path, 0o644)
            let loose = try ManagedProcess(
                ProductBinary.path("leadsync"), arguments: ["console", "--port", "0", "--allow-actions"],
                environment: ["DATABASE_URL": db.url.urlString, "LEADSYNC_CONSOLE_TOKEN_FILE": tokenFile.path])
            #expect(try await loose.waitForExit(timeout: .seconds(30)) == 1)
            #expect(
                loose.standardError.contains(
                    "LEADSYNC_CONSOLE_TOKEN_FILE \(tokenFile.path) has group or world permissions"))
            let missing = try ManagedProcess(
                ProductBinary.path("leadsync"), arguments: ["console", "--port", "0", "--allow-actions"],
                environment: ["DATABASE_URL": db.url.urlString, "LEADSYNC_CONSOLE_TOKEN": ""])
            #expect(try await missing.waitForExit(timeout: .seconds(30)) == 1)
            #expect(missing.standardError.contains("--allow-actions needs a token"))
            chmod(tokenFile.path, 0o600)

            try await db.withLoginRole(memberOf: "leadsync_admin") { admin in
                let (console, base) = try await Self.startConsole(
                    admin, arguments: ["--allow-actions"], environment: ["LEADSYNC_CONSOLE_TOKEN_FILE": tokenFile.path])
                defer { console.signal(SIGTERM) }
                #expect(console.standardOutput.contains("(actions enabled)"))
                let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
                let (_, login) = try await session.data(
                    for: Self.form(base + "/login", "token=\(consoleToken)", cookie: nil))
                let response = try #require(login as? HTTPURLResponse)
                #expect(response.statusCode == 303)
                let setCookie = try #require(response.value(forHTTPHeaderField: "Set-Cookie"))
                let cookie = String(setCookie.split(separator: ";")[0])
                let (page, _) = try await session.data(for: Self.get(base + "/project?id=acme", cookie: cookie))
                let html = String(decoding: page, as: UTF8.self)
                let csrf = try #require(
                    html.range(of: #"name="csrf" value=""#).map { html[$0.upperBound...].prefix { $0 != "\"" } })
                let (done, acted) = try await session.data(
                    for: Self.form(base + "/actions/pause", "project=acme&reason=deploy&csrf=\(csrf)", cookie: cookie))
                #expect((acted as? HTTPURLResponse)?.statusCode == 200)
                #expect(String(decoding: done, as: UTF8.self).contains("paused project acme (deploy)"))
                try await waitUntil("the action is logged") { console.standardError.contains("console action") }
                #expect(console.standardError.contains("action=pause"))
                #expect(!console.standardError.contains(consoleToken))
                #expect(!console.standardOutput.contains(consoleToken))
            }
            #expect(
                try await db.count("SELECT count(*) FROM leadsync.projects WHERE project_id = 'acme' AND paused") == 1)
        }
    }

    static func get(_ url: String, cookie: String?) -> URLRequest {
        var request = URLRequest(url: URL(string: url)!)
        if let cookie { request.setValue(cookie, forHTTPHeaderField: "Cookie") }
        return request
    }

    static func form(_ url: String, _ body: String, cookie: String?) -> URLRequest {
        var request = get(url, cookie: cookie)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        return request
    }
}

/// Keeps a 303 as the answer, so the sign-in's cookie can be read.
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
