import Foundation
import LeadSyncTesting
import Testing
import WireJSON

@Suite struct ReportCommandTests {
    static let table = """
        Leads by state
        PROJECT  STATE     PENDING  RETRYING  IN FLIGHT  SUBMITTED  INVALID  HELD  CANCELLED  LAG
        acme     active          3         1          1          2        2     1          1   1h
        beta     paused          1         0          0          0        0     2          0   2h
        TOTAL    1 paused        4         1          1          2        2     3          1   2h

        Requests in the last 24h
        PROJECT  REQUESTS  FAILED  429s  ACCEPTED  REJECTED  UNCONFIRMED  INVALID  INVALID RATE  LAST SUCCESS
        acme            4       1     1         1         1            0        2         66.7%  2024-05-01T10:00:01Z
        beta            1       1     0         0         0            0        0             -  -
        TOTAL           5       2     1         1         1            0        2         66.7%  2024-05-01T10:00:01Z

        Requests by outcome in the last 24h
        PROJECT  OUTCOME       REQUESTS
        acme     partial              1
        acme     rate_limited         1
        acme     server_error         1
        acme     open                 1
        beta     forbidden            1

        Invalid leads by reason
        PROJECT  REASON               SOURCE  LEADS
        acme     api_duplicate_call   api         1
        acme     local_invalid_phone  local       1

        Held leads by reason
        PROJECT  REASON            LEADS
        acme     bad_request           1
        beta     project_inactive      2

        Paused projects
        PROJECT  UNTIL  REASON
        beta     -      project_inactive: Project is inactive

        """

    @Test func tableShowsStatesReasonsLagAndRequests() async throws {
        try await Seed.with { db in
            let result = try await leadsync("report", "--now", Seed.now, db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == Self.table)
            #expect(result.stderr == "")
        }
    }

    @Test func jsonHasStableKeys() async throws {
        try await Seed.with { db in
            let result = try await leadsync("report", "--now", Seed.now, "--format", "json", db: db)
            #expect(result.status == 0, "\(result)")
            let acme =
                #"{"project_id":"acme","paused":false,"pause_reason":null,"paused_until":null,"#
                + #""leads":{"pending":3,"retrying":1,"in_flight":1,"submitted":2,"invalid":2,"held":1,"cancelled":1,"total":11},"#
                + #""oldest_pending_at":"2024-05-01T11:00:00Z","lag_seconds":3600,"#
                + #""invalid_by_reason":{"api_duplicate_call":1,"local_invalid_phone":1},"held_by_reason":{"bad_request":1},"#
                + #""requests":{"total":4,"failed":1,"rate_limited":1,"#
                + #""by_outcome":{"partial":1,"rate_limited":1,"server_error":1,"open":1},"#
                + #""leads_accepted":1,"leads_rejected":1,"leads_unconfirmed":0},"#
                + #""invalid_since":2,"invalid_rate":0.6667,"last_success_at":"2024-05-01T10:00:01Z"}"#
            let beta =
                #"{"project_id":"beta","paused":true,"pause_reason":"project_inactive: Project is inactive","paused_until":null,"#
                + #""leads":{"pending":1,"retrying":0,"in_flight":0,"submitted":0,"invalid":0,"held":2,"cancelled":0,"total":3},"#
                + #""oldest_pending_at":"2024-05-01T10:00:00Z","lag_seconds":7200,"#
                + #""invalid_by_reason":{},"held_by_reason":{"project_inactive":2},"#
                + #""requests":{"total":1,"failed":1,"rate_limited":0,"by_outcome":{"forbidden":1},"#
                + #""leads_accepted":0,"leads_rejected":0,"leads_unconfirmed":0},"#
                + #""invalid_since":0,"invalid_rate":null,"last_success_at":null}"#
            let totals =
                #"{"projects":2,"paused_projects":1,"#
                + #""leads":{"pending":4,"retrying":1,"in_flight":1,"submitted":2,"invalid":2,"held":3,"cancelled":1,"total":14},"#
                + #""oldest_pending_at":"2024-05-01T10:00:00Z","lag_seconds":7200,"#
                + #""invalid_by_reason":{"api_duplicate_call":1,"local_invalid_phone":1},"#
                + #""held_by_reason":{"project_inactive":2,"bad_request":1},"#
                + #""requests":{"total":5,"failed":2,"rate_limited":1,"#
                + #""by_outcome":{"partial":1,"forbidden":1,"rate_limited":1,"server_error":1,"open":1},"#
                + #""leads_accepted":1,"leads_rejected":1,"leads_unconfirmed":0},"#
                + #""invalid_since":2,"invalid_rate":0.6667,"last_success_at":"2024-05-01T10:00:01Z"}"#
            let expected =
                #"{"generated_at":"2024-05-01T12:00:00Z","since":"24h","since_seconds":86400,"#
                + #""projects":[\#(acme),\#(beta)],"totals":\#(totals)}"# + "\n"
            #expect(result.stdout == expected)
            #expect(try JSONParser.parse(result.stdout)["projects"]?.arrayValue?.count == 2)
        }
    }

    @Test func csvHasOneFixedColumnRowPerProject() async throws {
        try await Seed.with { db in
            let result = try await leadsync("report", "--now", Seed.now, "--format", "csv", db: db)
            #expect(result.status == 0, "\(result)")
            let lines = result.stdout.components(separatedBy: "\r\n")
            #expect(lines.count == 4)
            #expect(lines.last == "")
            #expect(
                lines[0]
                    == "project_id,paused,pause_reason,paused_until,pending,retrying,in_flight,submitted,invalid,held,"
                    + "cancelled,total,oldest_pending_at,lag_seconds,requests,requests_failed,rate_limited,"
                    + "leads_accepted,leads_rejected,leads_unconfirmed,invalid_since,invalid_rate,last_success_at,"
                    + "invalid_api_duplicate_call,invalid_api_repeating_digits,invalid_api_already_exists,"
                    + "invalid_api_rejected,invalid_api_process_not_found,invalid_local_invalid_phone,"
                    + "invalid_local_repeating_digits,invalid_local_duplicate,invalid_local_metadata_too_large,"
                    + "invalid_local_lead_too_large,"
                    + "held_project_paused,held_project_inactive,held_token_missing,held_token_mismatch,"
                    + "held_bad_request,held_retries_exhausted,outcome_ok,outcome_partial,outcome_rejected,"
                    + "outcome_batch_too_large,outcome_bad_request,outcome_forbidden,outcome_process_not_found,"
                    + "outcome_rate_limited,outcome_server_error,outcome_timeout,outcome_network_error,"
                    + "outcome_bad_response,outcome_abandoned,outcome_open")
            #expect(
                lines[1]
                    == "acme,false,,,3,1,1,2,2,1,1,11,2024-05-01T11:00:00Z,3600,4,1,1,1,1,0,2,0.6667,2024-05-01T10:00:01Z,"
                    + "1,0,0,0,0,1,0,0,0,0,0,0,0,0,1,0,0,1,0,0,0,0,0,1,1,0,0,0,0,1")
            #expect(
                lines[2]
                    == "beta,true,project_inactive: Project is inactive,,1,0,0,0,0,2,0,3,2024-05-01T10:00:00Z,7200,"
                    + "1,1,0,0,0,0,0,,,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0")
        }
    }

    @Test func projectAndWindowNarrowIt() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "report", "--now", Seed.now, "--project", "acme", "--since", "30m", "--format", "csv", db: db)
            #expect(result.status == 0, "\(result)")
            let rows = result.stdout.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            #expect(rows.count == 1)
            // In the last 30 minutes only the open request started; nothing was decided.
            #expect(
                rows.first?.hasPrefix("acme,false,,,3,1,1,2,2,1,1,11,2024-05-01T11:00:00Z,3600,1,0,0,0,0,0,0,,") == true
            )
        }
    }

    @Test func checkBreachedExitsThreeNamingEachThreshold() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "report", "--now", Seed.now, "--check", "--max-lag", "90m", "--max-held", "1", "--max-invalid-rate",
                "50%", db: db)
            #expect(result.status == 3, "\(result)")
            #expect(
                result.stderr
                    == "leadsync: check failed: --max-invalid-rate 50.0% breached by acme (66.7% invalid in 24h); "
                    + "--max-lag 1h30m breached by beta (oldest pending lead waits 2h); "
                    + "--max-held 1 breached by beta (2 held)\n")
            #expect(
                result.stdout.hasSuffix(
                    """

                    Check
                    breached: --max-invalid-rate 50.0% breached by acme (66.7% invalid in 24h)
                    breached: --max-lag 1h30m breached by beta (oldest pending lead waits 2h)
                    breached: --max-held 1 breached by beta (2 held)

                    """))
        }
    }

    @Test func checkPassedExitsZero() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "report", "--now", Seed.now, "--check", "--max-lag", "3h", "--max-held", "2", "--format", "json",
                db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdout.hasSuffix(#","check":{"passed":true,"breaches":[]}}"# + "\n"))
        }
    }

    @Test func checkInJSONListsBreaches() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "report", "--now", Seed.now, "--check", "--max-held", "0", "--format", "json", db: db)
            #expect(result.status == 3, "\(result)")
            #expect(
                result.stdout.hasSuffix(
                    #","check":{"passed":false,"breaches":["#
                        + #"{"threshold":"max-held","project_id":"acme","limit":"0","value":"1 held"},"#
                        + #"{"threshold":"max-held","project_id":"beta","limit":"0","value":"2 held"}]}}"# + "\n"))
            #expect(result.stderrLines.count == 1)
        }
    }

    @Test(arguments: [
        ["report", "--check"],
        ["report", "--max-lag", "1h"],
        ["report", "--since", "yesterday"],
        ["report", "--format", "xml"],
        ["report", "--check", "--max-invalid-rate", "150%"],
        ["report", "--check", "--max-held", "-1"],
    ])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
    }

    @Test func unknownProjectIsAnError() async throws {
        try await Seed.with { db in
            let result = try await leadsync("report", "--project", "nope", db: db)
            #expect(result.status == 1)
            #expect(result.stderr == "leadsync: no project 'nope' (leadsync project list shows them)\n")
        }
    }

    @Test func emptyDatabaseReportsNothingToDo() async throws {
        try await TestDatabase.with { db in
            let result = try await leadsync("report", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasPrefix("Leads by state\nPROJECT  STATE  PENDING"))
            #expect(result.stdout.contains("TOTAL"))
        }
    }
}
