import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LeadSyncAdmin
import LeadSyncConsole
import LeadSyncStore
import LeadSyncTesting
import NIOCore
import PostgresNIO

/// The token the action tests start the console with.
let consoleToken = "console-test-token-0123456789"

/// Runs `body` against the console's router (HummingbirdTesting, no socket), its pool on `url`
/// (the test database as its owner unless a role's URL is given).
func withConsole<T: Sendable>(
    _ db: TestDatabase, url: DatabaseURL? = nil, token: String? = nil, pageSize: Int = 50, now: Date? = nil,
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
    let client = PostgresClient(
        configuration: try Console.clientConfiguration(url ?? db.url), backgroundLogger: db.logger)
    let configuration = ConsoleConfiguration(token: token, refreshSeconds: 0, pageSize: pageSize, now: now)
    let console = Console(configuration: configuration, client: client, logger: db.logger)
    return try await console.application().test(.router, body)
}

struct Page: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String

    /// The text of an overview cell: the row of `project` (as it appears escaped), column `column`.
    func cell(project: String, _ column: String) -> String? {
        let marker = "data-project=\"\(HTMLText.escape(project))\">"
        guard let start = text.range(of: marker) else { return nil }
        let row = text[start.upperBound...]
        guard let end = row.range(of: "</tr>") else { return nil }
        return value(in: String(row[..<end.lowerBound]), attribute: "data-col=\"\(column)\"")
    }

    /// The text of the first element carrying `attribute` (e.g. `data-figure="held"` → the figure).
    func value(attribute: String) -> String? { value(in: text, attribute: attribute) }

    private func value(in text: String, attribute: String) -> String? {
        guard let start = text.range(of: attribute) else { return nil }
        var rest = text[start.upperBound...]
        guard let open = rest.firstIndex(of: ">") else { return nil }
        rest = rest[rest.index(after: open)...]
        // A figure card nests its value in <dd>…<small>: take the first text run.
        while rest.hasPrefix("<") {
            guard let close = rest.firstIndex(of: ">") else { return nil }
            rest = rest[rest.index(after: close)...]
        }
        return String(rest.prefix { $0 != "<" })
    }

    func count(_ needle: String) -> Int { text.components(separatedBy: needle).count - 1 }
}

extension TestClientProtocol {
    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> Page {
        try await execute(uri: uri, method: .get, headers: headers) { response in
            Page(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }

    func post(_ uri: String, form: String, headers: HTTPFields = [:]) async throws -> Page {
        var all = headers
        all[.contentType] = "application/x-www-form-urlencoded"
        return try await execute(uri: uri, method: .post, headers: all, body: ByteBuffer(string: form)) { response in
            Page(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}

/// Headers of a signed-in browser.
func signedIn(_ token: String = consoleToken) -> HTTPFields {
    [.cookie: "\(ConsoleAuth.cookieName)=\(ConsoleAuth(token: token).session)"]
}

func csrf(_ token: String = consoleToken) -> String { ConsoleAuth(token: token).csrf }

/// What `leadsync report` counts for a project, straight from the tables.
struct ExpectedCounts {
    var pending: Int
    var retrying: Int
    var inFlight: Int
    var submitted: Int
    var invalid: Int
    var held: Int

    static func of(_ project: String, in db: TestDatabase) async throws -> ExpectedCounts {
        let p = project.replacingOccurrences(of: "'", with: "''")
        let inFlight = try await db.count(
            """
            SELECT count(*) FROM leadsync.submission_attempts a CROSS JOIN LATERAL unnest(a.lead_ids) x(id)
            JOIN leadsync.leads l ON l.id = x.id AND l.status = 'pending'
            WHERE a.finished_at IS NULL AND a.project_id = '\(p)'
            """)
        let retrying = try await db.count(
            "SELECT count(*) FROM leadsync.leads WHERE project_id = '\(p)' AND status = 'pending' AND next_attempt_at > now()"
        )
        let pending = try await db.count(
            "SELECT count(*) FROM leadsync.leads WHERE project_id = '\(p)' AND status = 'pending'")
        func state(_ s: String) async throws -> Int {
            try await db.count("SELECT count(*) FROM leadsync.leads WHERE project_id = '\(p)' AND status = '\(s)'")
        }
        return ExpectedCounts(
            pending: pending - inFlight - retrying, retrying: retrying, inFlight: inFlight,
            submitted: try await state("submitted"), invalid: try await state("invalid"), held: try await state("held"))
    }
}
