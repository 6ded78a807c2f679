import AsyncHTTPClient
import Foundation
import LeadSyncTesting
import NIOCore
import Testing
import UservoxSimulator

/// A real Prometheus (Debian's package, installed by scripts/test.sh) scrapes a real
/// worker draining leads, evaluates deploy/prometheus/leadsync-rules.yml, and fires the
/// lag alert once the simulator fails.
@Suite struct PrometheusIntegrationTests {
    static let prometheus = "/usr/bin/prometheus"

    @Test func prometheusScrapesAWorkerAndTheLagAlertFires() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.prometheus) else {
            print(
                "SKIPPED PrometheusIntegrationTests: \(Self.prometheus) is not installed (apt-get install prometheus)")
            return
        }
        try await TestDatabase.with { db in
            try await UservoxSimulator.withRunning(.projects(["p1"])) { sim in
                let f = Fixture(db: db)
                try await f.insert(project: "p1", count: 50)
                let metricsPort = try PrivateServer.freePort()
                let worker = try await WorkerProcess.start(
                    database: db.url, baseURL: sim.baseURL, tokens: tokens(["p1"]),
                    arguments: ["--metrics-port", "\(metricsPort)"])
                defer { if worker.isRunning { worker.signal(SIGKILL) } }
                try await f.waitUntilNothingPending(worker)

                let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "prometheus-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                // The shipped rules, with the lag alert's threshold and hold cut to test
                // time: the expression itself is the one operators run.
                var rules = try String(
                    contentsOf: OperationsKitTests.repository.appendingPathComponent(
                        "deploy/prometheus/leadsync-rules.yml"), encoding: .utf8)
                let lagRule = "expr: max by (project) (leadsync_lag_seconds) > 600\n        for: 5m"
                #expect(rules.contains(lagRule))
                rules = rules.replacingOccurrences(
                    of: lagRule, with: "expr: max by (project) (leadsync_lag_seconds) > 3\n        for: 0s")
                try rules.write(to: directory.appendingPathComponent("rules.yml"), atomically: true, encoding: .utf8)
                try """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                rule_files: [rules.yml]
                scrape_configs:
                  - job_name: leadsync
                    static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]
                """.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
                let port = try PrivateServer.freePort()
                let server = try ManagedProcess(
                    Self.prometheus,
                    arguments: [
                        "--config.file=\(directory.appendingPathComponent("prometheus.yml").path)",
                        "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                        "--web.listen-address=127.0.0.1:\(port)",
                    ], environment: [:])
                defer { if server.isRunning { server.signal(SIGKILL) } }
                let api = PrometheusAPI(port: port)

                try await waitUntil(
                    "Prometheus has the worker's series", timeout: .seconds(60), poll: .milliseconds(250)
                ) {
                    if !server.isRunning { throw PrometheusDied(stderr: server.standardError) }
                    let submitted = try? await api.values(#"leadsync_project_leads{project="p1",state="submitted"}"#)
                    let requests = try? await api.values(#"sum(leadsync_requests_total{project="p1",outcome="ok"})"#)
                    return submitted == [50] && (requests?.first ?? 0) > 0
                }

                sim.simulator.setFaults(.init(errorRate: 1))
                try await f.insert(project: "p1", count: 10, from: 1000)
                try await waitUntil("the lag alert fires", timeout: .seconds(90), poll: .milliseconds(250)) {
                    if !worker.isRunning { throw WorkerDied(stderr: worker.standardError) }
                    return (try? await api.firing()).map { $0.contains("LeadSyncLagHigh/p1") } ?? false
                }

                server.signal(SIGTERM)
                _ = try await server.waitForExit(timeout: .seconds(30))
                worker.signal(SIGTERM)
                #expect(try await worker.waitForExit() == 0, "\(worker.standardError.suffix(2000))")
            }
        }
    }
}

struct PrometheusDied: Error, CustomStringConvertible {
    let stderr: String
    var description: String { "prometheus exited early: \(stderr.suffix(3000))" }
}

/// Prometheus's HTTP API, the parts the test reads.
struct PrometheusAPI {
    let port: Int

    func get(_ path: String, query: String? = nil) async throws -> [String: Any] {
        var url = "http://127.0.0.1:\(port)\(path)"
        if let query {
            url += "?query=" + query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        }
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    /// The values of an instant query's vector.
    func values(_ query: String) async throws -> [Double] {
        let data = try await get("/api/v1/query", query: query)["data"] as? [String: Any]
        let result = data?["result"] as? [[String: Any]] ?? []
        return result.compactMap { (($0["value"] as? [Any])?.last as? String).flatMap(Double.init) }
    }

    /// Firing alerts as "name/project".
    func firing() async throws -> [String] {
        let data = try await get("/api/v1/alerts")["data"] as? [String: Any]
        let alerts = data?["alerts"] as? [[String: Any]] ?? []
        return alerts.compactMap { alert in
            guard alert["state"] as? String == "firing", let labels = alert["labels"] as? [String: String] else {
                return nil
            }
            return "\(labels["alertname"] ?? "")/\(labels["project"] ?? "")"
        }
    }
}
