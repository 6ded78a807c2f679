import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO
import Testing

/// The database every command test starts from: two projects with leads in every state,
/// requests of every kind and fixed timestamps, so expected output can be written down.
/// Commands whose output depends on the clock run with `--now 2024-05-01T12:00:00Z`.
///
/// acme: 1–2 submitted (2 long ago), 3 invalid by the API, 4 invalid locally (a phone with a
/// comma and quotes, for CSV), 5 in flight (open attempt 3), 6 new, 7 waiting for a retry,
/// 8 held (bad_request), 9 cancelled, 10 a duplicate of 1's phone, 11 a bad phone.
/// beta (paused by a 403): 12–13 held (project_inactive), 14 pending.
enum Seed {
    static let now = "2024-05-01T12:00:00Z"

    static let sql = """
        INSERT INTO leadsync.projects (project_id, paused, pause_reason, created_at, updated_at) VALUES
            ('acme', false, NULL, '2024-04-01 00:00:00+00', '2024-04-01 00:00:00+00'),
            ('beta', true, 'project_inactive: Project is inactive', '2024-04-01 00:00:00+00', '2024-05-01 09:30:00+00');
        INSERT INTO leadsync.leads (id, project_id, process_id, phone, email, reference_id, metadata, status, held_reason,
                                    attempt_count, next_attempt_at, created_at, updated_at, submitted_at, remote_id, last_error)
        OVERRIDING SYSTEM VALUE VALUES
            (1, 'acme', 'onboarding', '+14155550001', 'ada@example.com', 'crm-1', '{"score": 7}', 'submitted', NULL, 1, NULL,
             '2024-05-01 09:00:00+00', '2024-05-01 10:00:01+00', '2024-05-01 10:00:01+00', 'r-1', NULL),
            (2, 'acme', 'onboarding', '+14155550002', NULL, 'crm-2', '{}', 'submitted', NULL, 1, NULL,
             '2024-03-01 08:00:00+00', '2024-03-01 09:00:01+00', '2024-03-01 09:00:01+00', 'r-2', NULL),
            (3, 'acme', 'onboarding', '+14155550003', NULL, 'crm-3', '{}', 'invalid', NULL, 1, NULL,
             '2024-05-01 09:00:00+00', '2024-05-01 10:00:01+00', NULL, NULL,
             'A call attempt has already been made to this phone number for this project'),
            (4, 'acme', 'onboarding', 'n/a, "ask"', NULL, 'crm-4', '{}', 'invalid', NULL, 0, NULL,
             '2024-05-01 10:55:00+00', '2024-05-01 11:00:00+00', NULL, NULL, 'phone is not a phone number'),
            (5, 'acme', 'onboarding', '+14155550005', NULL, 'crm-5', '{}', 'pending', NULL, 0, NULL,
             '2024-05-01 11:30:00+00', '2024-05-01 11:30:00+00', NULL, NULL, NULL),
            (6, 'acme', 'onboarding', '+14155550006', NULL, 'crm-6', '{}', 'pending', NULL, 0, NULL,
             '2024-05-01 11:50:00+00', '2024-05-01 11:50:00+00', NULL, NULL, NULL),
            (7, 'acme', 'onboarding', '+14155550007', NULL, 'crm-7', '{}', 'pending', NULL, 1, '2024-05-01 12:05:00+00',
             '2024-05-01 11:00:00+00', '2024-05-01 11:10:00+00', NULL, NULL, 'HTTP 503'),
            (8, 'acme', 'onboarding', '+14155550008', NULL, 'crm-8', '{}', 'held', 'bad_request', 1, NULL,
             '2024-05-01 08:00:00+00', '2024-05-01 08:30:00+00', NULL, NULL, 'Invalid request'),
            (9, 'acme', 'onboarding', '+14155550009', NULL, 'crm-9', '{}', 'cancelled', NULL, 0, NULL,
             '2024-05-01 08:00:00+00', '2024-05-01 08:30:00+00', NULL, NULL, NULL),
            (10, 'acme', 'onboarding', '+1 415 555 0001', NULL, 'crm-10', '{}', 'pending', NULL, 0, NULL,
             '2024-05-01 11:40:00+00', '2024-05-01 11:40:00+00', NULL, NULL, NULL),
            (11, 'acme', 'onboarding', '12', NULL, 'crm-11', '{}', 'pending', NULL, 0, NULL,
             '2024-05-01 11:40:00+00', '2024-05-01 11:40:00+00', NULL, NULL, NULL),
            (12, 'beta', NULL, '+442079460012', NULL, NULL, '{}', 'held', 'project_inactive', 0, NULL,
             '2024-05-01 09:00:00+00', '2024-05-01 09:30:00+00', NULL, NULL, 'Project is inactive'),
            (13, 'beta', NULL, '+442079460013', NULL, NULL, '{}', 'held', 'project_inactive', 0, NULL,
             '2024-05-01 09:00:00+00', '2024-05-01 09:30:00+00', NULL, NULL, 'Project is inactive'),
            (14, 'beta', NULL, '+442079460014', NULL, NULL, '{}', 'pending', NULL, 0, NULL,
             '2024-05-01 10:00:00+00', '2024-05-01 10:00:00+00', NULL, NULL, NULL);
        INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id) VALUES
            ('acme', '14155550001', 1), ('acme', '14155550002', 2), ('acme', '14155550003', 3),
            ('acme', '14155550005', 5), ('acme', '14155550007', 7), ('acme', '14155550008', 8),
            ('beta', '442079460012', 12), ('beta', '442079460013', 13);
        INSERT INTO leadsync.submission_attempts (id, project_id, worker_id, lead_count, lead_ids, started_at,
            lease_expires_at, finished_at, http_status, outcome, success_count, error_count, unconfirmed_count, error)
        OVERRIDING SYSTEM VALUE VALUES
            (1, 'acme', 'w1', 2, NULL, '2024-05-01 10:00:00+00', NULL, '2024-05-01 10:00:01.5+00', 200, 'partial', 1, 1, 0, NULL),
            (2, 'acme', 'w1', 1, NULL, '2024-05-01 11:00:00+00', NULL, '2024-05-01 11:00:00.25+00', 503, 'server_error', 0, 0, 0,
             'HTTP 503: upstream unavailable, "retry"'),
            (3, 'acme', 'w1', 1, '{5}', '2024-05-01 11:59:00+00', '2099-01-01 00:00:00+00', NULL, NULL, NULL, 0, 0, 0, NULL),
            (4, 'beta', 'w2', 2, NULL, '2024-05-01 09:30:00+00', NULL, '2024-05-01 09:30:00.1+00', 403, 'forbidden', 0, 0, 0,
             'Project is inactive'),
            (5, 'acme', 'w1', 1, NULL, '2024-03-01 09:00:00+00', NULL, '2024-03-01 09:00:01+00', 200, 'ok', 1, 0, 0, NULL),
            (6, 'acme', 'w1', 1, NULL, '2024-05-01 11:10:00+00', NULL, '2024-05-01 11:10:00.05+00', 429, 'rate_limited', 0, 0, 0,
             'Too many requests');
        INSERT INTO leadsync.attempt_leads (attempt_id, lead_id, result, message) VALUES
            (1, 1, 'accepted', NULL),
            (1, 3, 'rejected', 'A call attempt has already been made to this phone number for this project'),
            (2, 7, 'failed', 'HTTP 503'),
            (4, 12, 'held', 'Project is inactive'), (4, 13, 'held', 'Project is inactive'),
            (5, 2, 'accepted', NULL),
            (6, 7, 'requeued', 'Too many requests');
        INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source, attempt_id, created_at) VALUES
            (3, 'acme', 'api_duplicate_call', 'A call attempt has already been made to this phone number for this project',
             'api', 1, '2024-05-01 10:00:01+00'),
            (4, 'acme', 'local_invalid_phone', 'phone is not a phone number (8–15 digits, optional leading +)', 'local', NULL,
             '2024-05-01 11:00:00+00');
        SELECT setval(pg_get_serial_sequence('leadsync.leads', 'id'), 100);
        SELECT setval(pg_get_serial_sequence('leadsync.submission_attempts', 'id'), 100);
        """

    static func load(_ db: TestDatabase) async throws {
        try await db.withConnection { connection in
            for statement in SQLScript.statements(in: sql) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: db.logger)
            }
        }
    }

    /// A fresh migrated database with the seed in it.
    static func with<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        try await TestDatabase.with { db in
            try await load(db)
            return try await body(db)
        }
    }
}

/// What a run of the built `leadsync` printed and how it exited.
struct CLIResult: Sendable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
}

/// A database nobody listens on: connecting fails at once.
let unreachableURL = "postgres://x@127.0.0.1:1/db"

/// Runs the built binary against `db` (or an unreachable server), colour off.
func leadsync(_ arguments: [String], db: TestDatabase?) async throws -> CLIResult {
    try await leadsync(arguments, url: db?.url.urlString ?? unreachableURL)
}

/// Runs the built binary against a database URL (e.g. as a role of its own), colour off.
func leadsync(_ arguments: [String], url: String) async throws -> CLIResult {
    let process = try ManagedProcess(
        ProductBinary.path("leadsync"), arguments: arguments,
        environment: [
            "DATABASE_URL": url, "NO_COLOR": "1", "LOG_LEVEL": "warning",
        ])
    // A hang guard, not a speed check: the whole suite runs in parallel on two cores, where a
    // command has been seen to take over 30 s to finish.
    let status = try await process.waitForExit(timeout: .seconds(120))
    return CLIResult(status: status, stdout: process.standardOutput, stderr: process.standardError)
}

func leadsync(_ arguments: String..., db: TestDatabase?) async throws -> CLIResult {
    try await leadsync(arguments, db: db)
}

extension TestDatabase {
    /// One value from SQL (tests check what a command changed).
    func value<T: PostgresDecodable & Sendable>(_ type: T.Type, _ sql: PostgresQuery) async throws -> T? {
        try await withConnection { connection in
            try await connection.query(sql, logger: logger).collect().first?.decode(T.self)
        }
    }

    /// The rows of a query that selects one text column.
    func lines(_ sql: String) async throws -> [String] {
        try await withConnection { connection in
            var result: [String] = []
            for try await line in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(
                String.self)
            {
                result.append(line)
            }
            return result
        }
    }
}
