import Foundation
import LeadSyncStore
import LeadSyncTesting
import PostgresNIO

/// A database the console's tests look at: four projects, times relative to now() so the
/// hour and day charts have bars, and hostile text where an operator would read it.
///
/// - acme: 300 submitted (1–300), 20 pending new (301–320; 301–302 in the open attempt 999),
///   5 retrying (321–325), 12 invalid with markers (326–337), 4 held (338–341), 1 cancelled
///   (342); 240 requests over the last day, 12 in the last minute.
/// - beta: paused with a hostile reason; 3 held (project_inactive), 2 pending, long lag.
/// - the hostile project `<script>alert("id")</script>`: 2 invalid leads whose API message is
///   an `<img onerror>`, 1 submitted.
/// - gamma: 50 submitted, quiet.
/// Lead 326 was resubmitted as lead 400; lead 1 has reference_id `crm-1` and phone +14155550001.
enum ConsoleSeed {
    static let hostileProject = #"<script>alert("id")</script>"#
    static let hostileMessage = #"<img src=x onerror="alert('msg')"> & "quotes""#
    static let hostileReason = #"<b>inactive</b> & 'friends'"#

    static let sql = #"""
        INSERT INTO leadsync.projects (project_id, paused, pause_reason, rate_limit_requests, rate_limit_window)
        VALUES ('acme', false, NULL, 100, '5 seconds'),
               ('beta', true, '<b>inactive</b> & ''friends''', 100, '5 seconds'),
               ('<script>alert("id")</script>', false, NULL, 10, '1 second'),
               ('gamma', false, NULL, 100, '5 seconds');
        INSERT INTO leadsync.leads (id, project_id, process_id, phone, reference_id, status, held_reason, next_attempt_at,
                                    attempt_count, created_at, updated_at, submitted_at, last_error)
        OVERRIDING SYSTEM VALUE
        SELECT i, 'acme', 'onboarding', '+1415555' || lpad(i::text, 4, '0'), 'crm-' || i,
               CASE WHEN i <= 300 THEN 'submitted' WHEN i <= 325 THEN 'pending' WHEN i <= 337 THEN 'invalid'
                    WHEN i <= 341 THEN 'held' ELSE 'cancelled' END,
               CASE WHEN i BETWEEN 338 AND 339 THEN 'bad_request' WHEN i BETWEEN 340 AND 341 THEN 'retries_exhausted' END,
               CASE WHEN i BETWEEN 321 AND 325 THEN now() + interval '5 minutes' END,
               CASE WHEN i BETWEEN 321 AND 325 THEN 1 ELSE 0 END,
               now() - interval '2 hours' + i * interval '1 second', now() - interval '1 minute',
               CASE WHEN i <= 300 THEN now() - interval '1 minute' END,
               CASE WHEN i BETWEEN 338 AND 341 THEN 'HTTP 400: <bad> request' END
        FROM generate_series(1, 342) AS i;
        INSERT INTO leadsync.leads (id, project_id, phone, status, held_reason, created_at, updated_at, last_error)
        OVERRIDING SYSTEM VALUE VALUES
            (350, 'beta', '+442079460350', 'held', 'project_inactive', now() - interval '3 hours', now() - interval '3 hours', 'Project is inactive'),
            (351, 'beta', '+442079460351', 'held', 'project_inactive', now() - interval '3 hours', now() - interval '3 hours', 'Project is inactive'),
            (352, 'beta', '+442079460352', 'held', 'project_inactive', now() - interval '3 hours', now() - interval '3 hours', 'Project is inactive'),
            (353, 'beta', '+442079460353', 'pending', NULL, now() - interval '3 hours', now() - interval '3 hours', NULL),
            (354, 'beta', '+442079460354', 'pending', NULL, now() - interval '2 hours', now() - interval '2 hours', NULL),
            (360, '<script>alert("id")</script>', '+15550000360', 'invalid', NULL, now() - interval '1 hour', now() - interval '1 hour', NULL),
            (361, '<script>alert("id")</script>', '+15550000361', 'invalid', NULL, now() - interval '1 hour', now() - interval '1 hour', NULL),
            (362, '<script>alert("id")</script>', '+15550000362', 'submitted', NULL, now() - interval '1 hour', now() - interval '1 hour', NULL);
        INSERT INTO leadsync.leads (id, project_id, phone, status, created_at, updated_at, submitted_at)
        OVERRIDING SYSTEM VALUE
        SELECT i, 'gamma', '+1212555' || lpad(i::text, 4, '0'), 'submitted', now() - interval '20 hours',
               now() - interval '19 hours', now() - interval '19 hours'
        FROM generate_series(500, 549) AS i;
        INSERT INTO leadsync.leads (id, project_id, process_id, phone, reference_id, status, resubmit_of, created_at, updated_at)
        OVERRIDING SYSTEM VALUE VALUES
            (400, 'acme', 'onboarding', '+14155559400', 'crm-326-fixed', 'pending', 326, now() - interval '30 minutes', now() - interval '30 minutes');

        INSERT INTO leadsync.submission_attempts (id, project_id, worker_id, lead_count, started_at, finished_at,
            http_status, outcome, success_count, error_count, error)
        OVERRIDING SYSTEM VALUE
        SELECT i, 'acme', 'w1', 10, now() - (i * interval '6 minutes') + interval '30 seconds',
               now() - (i * interval '6 minutes') + interval '30.25 seconds',
               CASE WHEN i % 12 = 0 THEN 429 WHEN i % 17 = 0 THEN 503 WHEN i % 23 = 0 THEN 400 ELSE 200 END,
               CASE WHEN i % 12 = 0 THEN 'rate_limited' WHEN i % 17 = 0 THEN 'server_error'
                    WHEN i % 23 = 0 THEN 'bad_request' WHEN i % 5 = 0 THEN 'partial' ELSE 'ok' END,
               CASE WHEN i % 12 = 0 OR i % 17 = 0 OR i % 23 = 0 THEN 0 WHEN i % 5 = 0 THEN 9 ELSE 10 END,
               CASE WHEN i % 5 = 0 AND i % 12 <> 0 AND i % 17 <> 0 AND i % 23 <> 0 THEN 1 ELSE 0 END,
               CASE WHEN i % 17 = 0 THEN 'HTTP 503: <html>upstream</html>' END
        FROM generate_series(1, 228) AS i;
        INSERT INTO leadsync.submission_attempts (id, project_id, worker_id, lead_count, started_at, finished_at,
            http_status, outcome, success_count, error_count)
        OVERRIDING SYSTEM VALUE
        SELECT 300 + i, 'acme', 'w1', 25, now() - (i * interval '4 seconds'), now() - (i * interval '4 seconds') + interval '0.2 seconds',
               200, 'ok', 25, 0
        FROM generate_series(1, 12) AS i;
        INSERT INTO leadsync.submission_attempts (id, project_id, worker_id, lead_count, lead_ids, started_at,
            lease_expires_at, finished_at, http_status, outcome, success_count, error_count, error)
        OVERRIDING SYSTEM VALUE VALUES
            (999, 'acme', 'w1', 2, '{301,302}', now() - interval '1 second', now() + interval '1 minute', NULL, NULL, NULL, 0, 0, NULL),
            (998, 'beta', 'w2', 3, NULL, now() - interval '3 hours', NULL, now() - interval '3 hours', 403, 'forbidden', 0, 0,
             'Project is inactive'),
            (997, '<script>alert("id")</script>', 'w1', 3, NULL, now() - interval '50 minutes', NULL,
             now() - interval '50 minutes' + interval '0.3 seconds', 200, 'partial', 1, 2,
             '<img src=x onerror="alert(''attempt'')">');
        INSERT INTO leadsync.attempt_leads (attempt_id, lead_id, result, message) VALUES
            (1, 1, 'accepted', NULL),
            (5, 326, 'rejected', 'A call attempt has already been made to this phone number for this project'),
            (997, 360, 'rejected', '<img src=x onerror="alert(''msg'')"> & "quotes"'),
            (997, 361, 'rejected', '<img src=x onerror="alert(''msg'')"> & "quotes"'),
            (997, 362, 'accepted', NULL);
        INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source, attempt_id, created_at)
        SELECT i, 'acme',
               CASE WHEN i <= 330 THEN 'api_duplicate_call' WHEN i <= 334 THEN 'local_invalid_phone' ELSE 'api_rejected' END,
               CASE WHEN i <= 330 THEN 'A call attempt has already been made to this phone number for this project'
                    WHEN i <= 334 THEN 'phone is not a phone number' ELSE 'Rejected: <script>x</script>' END,
               CASE WHEN i BETWEEN 331 AND 334 THEN 'local' ELSE 'api' END,
               CASE WHEN i = 326 THEN 5 END, now() - interval '90 minutes'
        FROM generate_series(326, 337) AS i;
        INSERT INTO leadsync.invalid_leads (lead_id, project_id, reason, message, source, attempt_id, created_at) VALUES
            (360, '<script>alert("id")</script>', 'api_rejected', '<img src=x onerror="alert(''msg'')"> & "quotes"', 'api', 997,
             now() - interval '50 minutes'),
            (361, '<script>alert("id")</script>', 'api_rejected', '<img src=x onerror="alert(''msg'')"> & "quotes"', 'api', 997,
             now() - interval '50 minutes');
        INSERT INTO leadsync.phone_claims (project_id, phone_key, lead_id) VALUES
            ('acme', '14155550001', 1), ('beta', '442079460350', 350);
        SELECT setval(pg_get_serial_sequence('leadsync.leads', 'id'), 1000);
        SELECT setval(pg_get_serial_sequence('leadsync.submission_attempts', 'id'), 1000);
        """#

    static func load(_ db: TestDatabase) async throws {
        try await db.withConnection { connection in
            for statement in SQLScript.statements(in: sql) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: db.logger)
            }
        }
    }

    static func with<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        try await TestDatabase.with { db in
            try await load(db)
            return try await body(db)
        }
    }
}

extension TestDatabase {
    /// One integer from SQL.
    func count(_ sql: String) async throws -> Int {
        try await withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?.decode(Int.self)
                ?? 0
        }
    }
}
