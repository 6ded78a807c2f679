import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import UservoxSimulator
import WireJSON

/// Load check, off by default: `USERVOX_SIM_PERF=1 swift test --filter ThroughputTests`.
/// Sends 1000-lead requests for 5 projects at once, one keep-alive connection each, as fast
/// as answers come. With `USERVOX_SIM_PORT` set it loads an already running simulator (e.g. a
/// release build started with `--config` holding projects perf1…perf5, tokens tok-perf1…)
/// instead of one in this process.
@Suite struct ThroughputTests {
    static let enabled = ProcessInfo.processInfo.environment["USERVOX_SIM_PERF"] == "1"
    static let projects = (1...5).map { "perf\($0)" }

    @Test(.enabled(if: enabled)) func fiveProjectsOf1000LeadRequests() async throws {
        let requestsPerProject = Int(ProcessInfo.processInfo.environment["USERVOX_SIM_REQUESTS"] ?? "") ?? 40
        // Bodies are built first so the client's work is not measured.
        var bodies: [String: [ByteBuffer]] = [:]
        for (p, project) in Self.projects.enumerated() {
            bodies[project] = (0..<requestsPerProject).map { r in
                var writer = JSONWriter(reservingCapacity: 200_000)
                writer.beginObject()
                writer.key("leads")
                writer.beginArray()
                for n in 0..<1000 {
                    writer.beginObject()
                    writer.field("projectId", project)
                    // The "8" keeps a block of six equal digits from joining the project digit
                    // (7 in a row is "repeating digits"); fine below 888 requests per project.
                    writer.field("phone", "+155\(p + 1)8\(String(r * 1000 + n).leftPadded(to: 6))")
                    writer.field("referenceId", "\(project)-\(r)-\(n)")
                    writer.field("name", "Lead \(n)")
                    writer.key("metadata")
                    writer.raw(#"{"source":"perf","score":12}"#.utf8)
                    writer.endObject()
                }
                writer.endArray()
                writer.endObject()
                return ByteBuffer(bytes: writer.bytes)
            }
        }
        let frozen = bodies
        if let port = ProcessInfo.processInfo.environment["USERVOX_SIM_PORT"].flatMap(Int.init) {
            try await Self.load(port: port, bodies: frozen)
        } else {
            let configuration = SimulatorConfiguration(
                rateLimit: .init(requests: 100_000, window: .seconds(5)),
                projects: Self.projects.map { .init(id: $0, token: "tok-\($0)") })
            try await UservoxSimulator.withRunning(configuration) { endpoint in
                try await Self.load(port: endpoint.port, bodies: frozen)
            }
        }
    }

    static func load(port: Int, bodies: [String: [ByteBuffer]]) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
            for project in projects {
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                        var accepted = 0
                        for body in bodies[project] ?? [] {
                            let request = TestClient.Request(
                                UservoxSimulator.bulkInitiatePath + "?v=1.2", method: .post, authority: "localhost",
                                headers: [.authorization: "Bearer tok-\(project)", .contentType: "application/json"],
                                body: body)
                            let response = try await client.execute(request)
                            #expect(response.status == .ok)
                            let json = try JSONParser.parse(response.body.map { Array(buffer: $0) } ?? [])
                            accepted += json["success"]?.arrayValue?.count ?? 0
                        }
                        return accepted
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        let requests = bodies.values.map(\.count).reduce(0, +)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print(
            "throughput: \(requests) requests of 1000 leads in \(elapsed):",
            "\(Int(Double(requests) / seconds)) requests/s, \(Int(Double(accepted) / seconds)) accepted leads/s")
        #expect(accepted == requests * 1000)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
