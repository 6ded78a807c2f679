import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing
import UservoxSimulator

/// deploy/: the Prometheus rules and the Grafana dashboard name only metrics a running
/// worker exports.
@Suite struct OperationsKitTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func rulesAndDashboardNameOnlyExportedMetrics() async throws {
        let exported = try await Self.exportedNames()
        let rules = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/prometheus/leadsync-rules.yml"), encoding: .utf8)
        let ruleExpressions = PromQLNames.ruleExpressions(rules)
        #expect(ruleExpressions.count == 9)
        let dashboard = try Data(contentsOf: Self.repository.appendingPathComponent("deploy/grafana/leadsync.json"))
        let dashboardExpressions = PromQLNames.dashboardExpressions(try JSONSerialization.jsonObject(with: dashboard))
        #expect(dashboardExpressions.count >= 12)

        // `up` is Prometheus's own series for a scrape target, the only name not from the worker.
        for (source, expressions, allowed) in [
            ("rules", ruleExpressions, exported.union(["up"])), ("dashboard", dashboardExpressions, exported),
        ] {
            var named: Set<String> = []
            for expression in expressions {
                let names = PromQLNames.metrics(in: expression)
                #expect(!names.isEmpty, "\(source): no metric in \(expression)")
                named.formUnion(names)
            }
            #expect(
                named.subtracting(allowed).isEmpty,
                "\(source) names metrics the worker does not export: \(named.subtracting(allowed).sorted())")
        }
    }

    @Test func promQLNamesFindsMetricsOnly() {
        let expression = """
            histogram_quantile(0.95, sum by (le, project) (rate(a_bucket{job=~"$job",project="x y"}[5m])))
              / b_total offset 5m > 1e3 unless on (project) max without (instance) (c) == bool 0
            """
        #expect(PromQLNames.metrics(in: expression) == ["a_bucket", "b_total", "c"])
        #expect(PromQLNames.metrics(in: "label_values(leadsync_project_leads, project)") == ["leadsync_project_leads"])
        let rules = """
            groups:
              - rules:
                  - expr: up == 0
                  - expr: |
                      a
                        / b
                    for: 1m
            """
        #expect(PromQLNames.ruleExpressions(rules) == ["up == 0", "          a\n            / b"])
    }

    /// Names on a worker's /metrics after it drained leads under a tight rate limit, so
    /// every counter (requests, leads, waits, durations) and every state gauge exists.
    static func exportedNames() async throws -> Set<String> {
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 60)
                try await f.insert(project: "p-paused", count: 1, from: 500)
                try await f.execute(
                    """
                    UPDATE leadsync.projects SET rate_limit_requests = 2, rate_limit_window = interval '1 second',
                        max_batch_size = 10 WHERE project_id = 'p1'
                    """)
                try await f.execute(
                    "UPDATE leadsync.projects SET paused = true, pause_reason = 'maintenance' WHERE project_id = 'p-paused'"
                )
                try await f.execute(
                    "UPDATE leadsync.leads SET status = 'held', held_reason = 'project_paused' WHERE project_id = 'p-paused'"
                )
                let port = try PrivateServer.freePort()
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]),
                    arguments: ["--metrics-port", "\(port)", "--project", "p1"])
                try await f.waitUntilNothingPending(worker)
                let scrape = MetricsScrape(port: port)
                var text = ""
                try await waitUntil("every family exported") {
                    text = (try? await scrape.get("/metrics").body) ?? ""
                    return text.contains("leadsync_rate_limit_wait_seconds_total")
                        && text.contains(#"leadsync_leads_total{project="p1",state="submitted"} 60"#)
                }
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0, "\(worker.standardError.suffix(2000))")
                return MetricsScrape.names(text)
            }
        }
    }
}

/// The metric names in PromQL expressions, without a PromQL parser: strings, label
/// matchers, ranges and grouping clauses are removed; what remains that is neither a
/// function call, a keyword nor a number is a metric name.
enum PromQLNames {
    static let keywords: Set<String> = [
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
        "group_left", "group_right", "inf", "nan",
    ]

    static func metrics(in expression: String) -> Set<String> {
        var text = expression
        for pattern in [
            #""([^"\\]|\\.)*""#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#,
            #"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#, #"\$\w+"#,
            // label_values(metric, label): the label is not a metric.
            #",\s*[A-Za-z_]\w*\s*\)"#,
        ] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        var names: Set<String> = []
        let identifier = try! NSRegularExpression(pattern: #"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?"#)
        let range = NSRange(text.startIndex..., in: text)
        for match in identifier.matches(in: text, range: range) {
            let token = String(text[Range(match.range, in: text)!])
            if token.hasSuffix("(") || keywords.contains(token.lowercased()) { continue }
            // A number's exponent (1e3) starts like an identifier.
            if let start = Range(match.range, in: text)?.lowerBound, start > text.startIndex,
                text[text.index(before: start)].isNumber
            {
                continue
            }
            names.insert(token)
        }
        return names
    }

    /// Every `expr:` of a rules file, single-line or a `|` block.
    static func ruleExpressions(_ yaml: String) -> [String] {
        var result: [String] = []
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard let range = line.range(of: "expr:") else { continue }
            let rest = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
            if rest != "|" {
                result.append(rest)
                continue
            }
            // The block is what is indented past `expr:` itself (a list item puts "- " before it).
            let indent = line.distance(from: line.startIndex, to: range.lowerBound)
            var block: [String] = []
            while index < lines.count, lines[index].prefix(while: { $0 == " " }).count > indent {
                block.append(lines[index])
                index += 1
            }
            result.append(block.joined(separator: "\n"))
        }
        return result
    }

    /// Every panel's `expr` and every templating query of a dashboard.
    static func dashboardExpressions(_ json: Any) -> [String] {
        var result: [String] = []
        if let object = json as? [String: Any] {
            for (key, value) in object {
                if key == "expr" || key == "definition", let text = value as? String {
                    result.append(text)
                } else {
                    result += dashboardExpressions(value)
                }
            }
        } else if let array = json as? [Any] {
            for value in array { result += dashboardExpressions(value) }
        }
        return result
    }
}
