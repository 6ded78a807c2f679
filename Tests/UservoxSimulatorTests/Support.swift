import Hummingbird
import HummingbirdTesting
import Testing
import UservoxSimulator
import WireJSON

/// An answer as a client sees it.
struct SimResponse {
    let status: Int
    let headers: HTTPFields
    let text: String

    var json: JSONValue? { try? JSONParser.parse(text) }
    var error: String? { json?["error"]?.stringValue }
    var success: [JSONValue] { json?["success"]?.arrayValue ?? [] }
    var errors: [JSONValue] { json?["errors"]?.arrayValue ?? [] }
    var errorMessages: [String] { errors.compactMap { $0["error"]?.stringValue } }
}

/// Talks to a running simulator over a real socket, one connection per request.
struct SimClient {
    let host: String
    let port: Int
    /// The simulator behind it, when it runs in this process.
    var simulator: UservoxSimulator?
    var timeout: Duration = .seconds(10)

    init(host: String = "127.0.0.1", port: Int, simulator: UservoxSimulator? = nil) {
        self.host = host
        self.port = port
        self.simulator = simulator
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, token: String? = nil
    ) async throws -> SimResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let request = TestClient.Request(
            path, method: method, authority: "localhost", headers: headers, body: body.map { ByteBuffer(string: $0) })
        let timeout = self.timeout
        let response = try await TestClient.withClient(host: host, port: port) { client in
            // TestClient's own timeout waits for the connection to end; closing it ends the wait.
            try await withThrowingTaskGroup(of: TestClient.Response?.self) { group in
                group.addTask { try await client.execute(request) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let response = try await group.next() ?? nil else {
                    try? await client.close(mode: .all)
                    throw ClientTimedOut()
                }
                return response
            }
        }
        return SimResponse(
            status: Int(response.status.code), headers: response.headers,
            text: response.body.map { String(buffer: $0) } ?? "")
    }

    /// `POST /api/v1/leads/bulk/initiate` with a raw body.
    func bulk(_ body: String, token: String? = "tok-p1", v12: Bool = false) async throws -> SimResponse {
        try await request(.post, UservoxSimulator.bulkInitiatePath + (v12 ? "?v=1.2" : ""), body: body, token: token)
    }

    /// `POST …/bulk/initiate` with `{"leads": [...]}` built from `leads`.
    func leads(_ leads: [Lead], token: String = "tok-p1", v12: Bool = false) async throws -> SimResponse {
        try await bulk(#"{"leads":[\#(leads.map(\.json).joined(separator: ","))]}"#, token: token, v12: v12)
    }

    func stats() async throws -> JSONValue {
        let response = try await request(.get, "/_sim/stats")
        return try #require(response.json)
    }

    /// One counter of one project from `GET /_sim/stats`.
    func stat(_ name: String, project: String = "p1") async throws -> Int? {
        try await stats()["projects"]?[project]?[name]?.intValue
    }

    func script(_ entries: [String], project: String? = nil, extra: String = "") async throws {
        let list = entries.map { "\"\($0)\"" }.joined(separator: ",")
        let projectMember = project.map { #""project":"\#($0)","# } ?? ""
        let response = try await request(
            .post, "/_sim/faults", body: #"{\#(projectMember)"script":[\#(list)]\#(extra)}"#)
        #expect(response.status == 200, "\(response.text)")
    }
}

struct ClientTimedOut: Error {}

/// A lead as the worker would send it.
struct Lead {
    var projectId: String? = "p1"
    var phone: String? = nil
    var referenceId: String? = nil
    var processId: String? = nil

    var json: String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("projectId", projectId)
        writer.field("processId", processId)
        writer.field("phone", phone)
        writer.field("referenceId", referenceId)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

extension SimulatorConfiguration {
    /// p1 (processes proc-a, proc-b), p2 (any process), p3 inactive; small, test-friendly limits.
    static func testing(
        rateLimit: RateLimit = RateLimit(requests: 1000, window: .seconds(60)),
        maxLeads: Int = 5,
        protection: DuplicateProtection = DuplicateProtection(strikes: 0)
    ) -> SimulatorConfiguration {
        SimulatorConfiguration(
            maxLeadsPerRequest: maxLeads,
            rateLimit: rateLimit,
            projects: [
                Project(id: "p1", token: "tok-p1", processes: ["proc-a", "proc-b"]),
                Project(id: "p2", token: "tok-p2"),
                Project(id: "p3", token: "tok-p3", active: false),
                Project(id: "p4", token: "tok-p4", exists: false),
            ],
            duplicateProtection: protection
        )
    }
}

/// Runs `body` against a fresh simulator on a free port.
func withSimulator<T>(
    _ configuration: SimulatorConfiguration = .testing(),
    isolation: isolated (any Actor)? = #isolation,
    _ body: (SimClient) async throws -> T
) async throws -> T {
    try await UservoxSimulator.withRunning(configuration, isolation: isolation) { endpoint in
        try await body(SimClient(host: endpoint.host, port: endpoint.port, simulator: endpoint.simulator))
    }
}
