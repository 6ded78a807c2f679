import Foundation
import LeadSyncTesting
import Testing
import WireJSON

@Suite struct InvalidCommandTests {
    @Test func tableCountsByReasonThenListsNewestFirst() async throws {
        try await Seed.with { db in
            let result = try await leadsync("invalid", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout == """
                    Invalid leads by reason
                    REASON               SOURCE  LEADS
                    api_duplicate_call   api         1
                    local_invalid_phone  local       1
                    TOTAL                            2

                    Invalid leads, newest first
                    LEAD  PROJECT  REASON               SOURCE  ATTEMPT  MARKED AT             PHONE         MESSAGE
                       4  acme     local_invalid_phone  local         -  2024-05-01T11:00:00Z  n/a, "ask"    phone is not a phone number (8–15 digits, optional leading +)
                       3  acme     api_duplicate_call   api           1  2024-05-01T10:00:01Z  +14155550003  A call attempt has already been made to this phone number for this project

                    """)
        }
    }

    @Test func jsonAndCSVExportEveryMarkerVerbatim() async throws {
        try await Seed.with { db in
            let json = try await leadsync("invalid", "--format", "json", db: db)
            #expect(json.status == 0, "\(json)")
            #expect(
                json.stdout == """
                    [
                    {"lead_id":4,"project_id":"acme","reason":"local_invalid_phone","source":"local","attempt_id":null,"marked_at":"2024-05-01T11:00:00Z","phone":"n/a, \\"ask\\"","process_id":"onboarding","reference_id":"crm-4","message":"phone is not a phone number (8–15 digits, optional leading +)"},
                    {"lead_id":3,"project_id":"acme","reason":"api_duplicate_call","source":"api","attempt_id":1,"marked_at":"2024-05-01T10:00:01Z","phone":"+14155550003","process_id":"onboarding","reference_id":"crm-3","message":"A call attempt has already been made to this phone number for this project"}
                    ]

                    """)
            #expect(try JSONParser.parse(json.stdout).arrayValue?.count == 2)

            let csv = try await leadsync("invalid", "--format", "csv", db: db)
            #expect(csv.status == 0, "\(csv)")
            #expect(
                csv.stdout
                    == "lead_id,project_id,reason,source,attempt_id,marked_at,phone,process_id,reference_id,message\r\n"
                    + "4,acme,local_invalid_phone,local,,2024-05-01T11:00:00Z,\"n/a, \"\"ask\"\"\",onboarding,crm-4,"
                    + "\"phone is not a phone number (8–15 digits, optional leading +)\"\r\n"
                    + "3,acme,api_duplicate_call,api,1,2024-05-01T10:00:01Z,'+14155550003,onboarding,crm-3,"
                    + "A call attempt has already been made to this phone number for this project\r\n")
        }
    }

    @Test func filtersAndLimits() async throws {
        try await Seed.with { db in
            let byReason = try await leadsync(
                "invalid", "--reason", "api_duplicate_call", "--format", "csv", db: db)
            #expect(byReason.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 2)
            #expect(byReason.stdout.contains("\r\n3,acme,api_duplicate_call"))

            let limited = try await leadsync("invalid", "--project", "acme", "--limit", "1", db: db)
            #expect(limited.status == 0, "\(limited)")
            #expect(
                limited.stdout.hasSuffix("showing 1 of 2; --limit N shows more, --format csv or json exports all\n"))

            let none = try await leadsync("invalid", "--project", "beta", db: db)
            #expect(none.stdout == "no invalid leads\n")

            let emptyJSON = try await leadsync("invalid", "--project", "beta", "--format", "json", db: db)
            #expect(emptyJSON.stdout == "[]\n")
        }
    }

    @Test(arguments: [
        ["invalid", "--reason", "bogus"], ["invalid", "--limit", "0"], ["invalid", "--format", "yaml"],
        ["invalid", "extra"],
    ])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
    }
}

@Suite struct AttemptsCommandTests {
    @Test func tableListsRequestsNewestFirst() async throws {
        try await Seed.with { db in
            let result = try await leadsync("attempts", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout == """
                    ATTEMPT  STARTED               PROJECT  LEADS  HTTP  OUTCOME       ACCEPTED  REJECTED  UNCONFIRMED  DURATION  ERROR
                          3  2024-05-01T11:59:00Z  acme         1     -  open                 0         0            0         -
                          6  2024-05-01T11:10:00Z  acme         1   429  rate_limited         0         0            0     0.05s  Too many requests
                          2  2024-05-01T11:00:00Z  acme         1   503  server_error         0         0            0     0.25s  HTTP 503: upstream unavailable, "retry"
                          1  2024-05-01T10:00:00Z  acme         2   200  partial              1         1            0     1.50s
                          4  2024-05-01T09:30:00Z  beta         2   403  forbidden            0         0            0     0.10s  Project is inactive
                          5  2024-03-01T09:00:00Z  acme         1   200  ok                   1         0            0     1.00s

                    """)
        }
    }

    @Test func limitSaysHowManyMore() async throws {
        try await Seed.with { db in
            let result = try await leadsync("attempts", "--limit", "2", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout.hasSuffix(
                    "showing the newest 2 of 6; --limit N shows more, --format csv or json exports all\n"))
            #expect(result.stdout.split(separator: "\n").count == 4)
        }
    }

    @Test func jsonAndCSV() async throws {
        try await Seed.with { db in
            let json = try await leadsync("attempts", "--project", "acme", "--limit", "2", "--format", "json", db: db)
            #expect(json.status == 0, "\(json)")
            #expect(
                json.stdout == """
                    [
                    {"attempt_id":3,"project_id":"acme","started_at":"2024-05-01T11:59:00Z","finished_at":null,"leads":1,"http_status":null,"outcome":"open","accepted":0,"rejected":0,"unconfirmed":0,"duration_ms":null,"worker_id":"w1","error":null},
                    {"attempt_id":6,"project_id":"acme","started_at":"2024-05-01T11:10:00Z","finished_at":"2024-05-01T11:10:00Z","leads":1,"http_status":429,"outcome":"rate_limited","accepted":0,"rejected":0,"unconfirmed":0,"duration_ms":50,"worker_id":"w1","error":"Too many requests"}
                    ]

                    """)

            let csv = try await leadsync("attempts", "--format", "csv", db: db)
            #expect(csv.status == 0, "\(csv)")
            #expect(
                csv.stdout
                    == "attempt_id,project_id,started_at,finished_at,leads,http_status,outcome,accepted,rejected,"
                    + "unconfirmed,duration_ms,worker_id,error\r\n"
                    + "3,acme,2024-05-01T11:59:00Z,,1,,open,0,0,0,,w1,\r\n"
                    + "6,acme,2024-05-01T11:10:00Z,2024-05-01T11:10:00Z,1,429,rate_limited,0,0,0,50,w1,Too many requests\r\n"
                    + "2,acme,2024-05-01T11:00:00Z,2024-05-01T11:00:00Z,1,503,server_error,0,0,0,250,w1,"
                    + "\"HTTP 503: upstream unavailable, \"\"retry\"\"\"\r\n"
                    + "1,acme,2024-05-01T10:00:00Z,2024-05-01T10:00:01Z,2,200,partial,1,1,0,1500,w1,\r\n"
                    + "4,beta,2024-05-01T09:30:00Z,2024-05-01T09:30:00Z,2,403,forbidden,0,0,0,100,w2,Project is inactive\r\n"
                    + "5,acme,2024-03-01T09:00:00Z,2024-03-01T09:00:01Z,1,200,ok,1,0,0,1000,w1,\r\n")
        }
    }

    @Test func emptyHistory() async throws {
        try await TestDatabase.with { db in
            let result = try await leadsync("attempts", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "no requests yet\n")
        }
    }
}

@Suite struct ProjectListCommandTests {
    @Test func everyFormat() async throws {
        try await Seed.with { db in
            let table = try await leadsync("project", "list", db: db)
            #expect(table.status == 0, "\(table)")
            #expect(
                table.stdout == """
                    PROJECT  STATE     RATE  MAX BATCH  MAX IN FLIGHT  MAX ATTEMPTS  MAX BYTES  PAUSED UNTIL  PAUSE REASON
                    acme     active  100/5s       1000              4             8    1048576  -             -
                    beta     paused  100/5s       1000              4             8    1048576  -             project_inactive: Project is inactive

                    """)
            let json = try await leadsync("project", "list", "--format", "json", db: db)
            #expect(
                json.stdout == """
                    [
                    {"project_id":"acme","paused":false,"pause_reason":null,"paused_until":null,"rate_limit_requests":100,"rate_limit_window_seconds":5,"max_batch_size":1000,"max_in_flight":4,"max_attempts":8,"max_request_bytes":1048576},
                    {"project_id":"beta","paused":true,"pause_reason":"project_inactive: Project is inactive","paused_until":null,"rate_limit_requests":100,"rate_limit_window_seconds":5,"max_batch_size":1000,"max_in_flight":4,"max_attempts":8,"max_request_bytes":1048576}
                    ]

                    """)
            let csv = try await leadsync("project", "list", "--format", "csv", db: db)
            #expect(
                csv.stdout
                    == "project_id,paused,pause_reason,paused_until,rate_limit_requests,rate_limit_window_seconds,"
                    + "max_batch_size,max_in_flight,max_attempts,max_request_bytes\r\n"
                    + "acme,false,,,100,5,1000,4,8,1048576\r\n"
                    + "beta,true,project_inactive: Project is inactive,,100,5,1000,4,8,1048576\r\n")
        }
    }
}

@Suite struct CheckCommandTests {
    @Test func countsWhatThePreCheckWouldRejectWithoutWriting() async throws {
        try await Seed.with { db in
            let before = try await db.lines(
                "SELECT id || ' ' || status FROM leadsync.leads ORDER BY id")
            let claimsBefore = try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.phone_claims")

            let table = try await leadsync("check", db: db)
            #expect(table.status == 0, "\(table)")
            #expect(
                table.stdout == """
                    Local pre-check of pending leads (dry run: nothing written)
                    PROJECT  PENDING  WOULD PASS  WOULD BE INVALID
                    acme           5           3                 2
                    beta           1           1                 0
                    TOTAL          6           4                 2

                    Would be invalid, by reason
                    PROJECT  REASON               LEADS  FIRST LEADS
                    acme     local_invalid_phone      1  11
                    acme     local_duplicate          1  10

                    """)

            let json = try await leadsync("check", "--project", "acme", "--format", "json", db: db)
            #expect(
                json.stdout
                    == #"{"dry_run":true,"projects":[{"project_id":"acme","pending":5,"would_pass":3,"would_be_invalid":2,"#
                    + #""by_reason":{"local_invalid_phone":1,"local_duplicate":1},"#
                    + #""examples":{"local_invalid_phone":[11],"local_duplicate":[10]}}]}"# + "\n")

            let csv = try await leadsync("check", "--format", "csv", db: db)
            #expect(
                csv.stdout
                    == "project_id,pending,would_pass,would_be_invalid,local_invalid_phone,local_repeating_digits,"
                    + "local_duplicate,local_metadata_too_large,local_lead_too_large\r\n"
                    + "acme,5,3,2,1,0,1,0,0\r\n"
                    + "beta,1,1,0,0,0,0,0,0\r\n")

            #expect(try await db.lines("SELECT id || ' ' || status FROM leadsync.leads ORDER BY id") == before)
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.phone_claims") == claimsBefore)
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.invalid_leads") == 2)
        }
    }

    /// Earliest wins among pending leads with one phone, across pages and retries.
    @Test func duplicatesAmongPendingLeadsKeepTheEarliest() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone, metadata)
                    SELECT 'p', '+1415555' || lpad((i % 2500)::text, 4, '0'),
                           CASE WHEN i = 4000 THEN jsonb_build_object('x', repeat('y', 20000)) ELSE '{}' END
                    FROM generate_series(1, 5000) AS i
                    """, logger: db.logger)
                // A retry waiting, whose phone a later new lead repeats.
                try await connection.query(
                    "UPDATE leadsync.leads SET next_attempt_at = now() + interval '1 hour' WHERE id = 10",
                    logger: db.logger)
            }
            let result = try await leadsync("check", "--format", "csv", db: db)
            #expect(result.status == 0, "\(result)")
            // Phones repeat every 2500 leads: ids 2501–5000 duplicate 1–2500, except 4000, whose
            // metadata is too large (that rule comes first).
            #expect(result.stdout.hasSuffix("\r\np,5000,2500,2500,0,0,2499,1,0\r\n"))
        }
    }

    /// docs/contract.md §3.4: the same byte rule as the worker, against the project's budget.
    @Test func leadsTooLargeForTheByteBudgetAreCounted() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone, metadata)
                    VALUES ('p', '+14155550001', jsonb_build_object('x', repeat('n', 3000))), ('p', '+14155550002', '{}')
                    """, logger: db.logger)
                try await connection.query("UPDATE leadsync.projects SET max_request_bytes = 2048", logger: db.logger)
            }
            let result = try await leadsync("check", "--format", "csv", db: db)
            #expect(result.stdout.hasSuffix("\r\np,2,1,1,0,0,0,0,1\r\n"), "\(result)")
        }
    }

    @Test func unknownProjectIsAnError() async throws {
        try await Seed.with { db in
            let result = try await leadsync("check", "--project", "nope", db: db)
            #expect(result.status == 1)
            #expect(result.stderrLines.count == 1)
        }
    }
}
