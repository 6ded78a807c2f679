import Foundation
import LeadSyncTesting
import Testing
import WireJSON

@Suite struct LeadShowCommandTests {
    @Test func showsFieldsMarkerAndHistory() async throws {
        try await Seed.with { db in
            let result = try await leadsync("lead", "show", "3", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout == """
                    Lead 3
                    FIELD            VALUE
                    status           invalid
                    project          acme
                    process_id       onboarding
                    group_id         -
                    phone            +14155550003
                    email            -
                    name             -
                    first_name       -
                    last_name        -
                    reference_id     crm-3
                    metadata         {}
                    init             true
                    remote_lead_id   -
                    attempt_count    1
                    ambiguous        false
                    next_attempt_at  -
                    created_at       2024-05-01T09:00:00Z
                    updated_at       2024-05-01T10:00:01Z
                    submitted_at     -
                    remote_id        -
                    held_reason      -
                    last_error       A call attempt has already been made to this phone number for this project
                    invalid          api_duplicate_call (api) at 2024-05-01T10:00:01Z
                    invalid_message  A call attempt has already been made to this phone number for this project
                    invalid_attempt  1
                    resubmit_of      -
                    replaced_by      -

                    Attempts
                    ATTEMPT  STARTED               HTTP  OUTCOME  RESULT    MESSAGE
                          1  2024-05-01T10:00:00Z   200  partial  rejected  A call attempt has already been made to this phone number for this project

                    """)
        }
    }

    @Test func showsALeadInFlightAndTheLeadHoldingItsPhone() async throws {
        try await Seed.with { db in
            let inFlight = try await leadsync("lead", "show", "5", db: db)
            #expect(inFlight.stdout.contains("\nstatus           pending (in flight)\n"))
            #expect(inFlight.stdout.contains("\nin_flight        attempt 3 since 2024-05-01T11:59:00Z\n"))

            let retry = try await leadsync("lead", "show", "7", db: db)
            #expect(retry.stdout.contains("\nstatus           pending (retry)\n"))
            #expect(
                retry.stdout.hasSuffix(
                    """
                    Attempts
                    ATTEMPT  STARTED               HTTP  OUTCOME       RESULT    MESSAGE
                          2  2024-05-01T11:00:00Z   503  server_error  failed    HTTP 503
                          6  2024-05-01T11:10:00Z   429  rate_limited  requeued  Too many requests

                    """))

            let duplicate = try await leadsync("lead", "show", "10", "--format", "json", db: db)
            #expect(duplicate.status == 0, "\(duplicate)")
            #expect(
                duplicate.stdout
                    == #"{"id":10,"project_id":"acme","status":"pending","in_flight_attempt_id":null,"#
                    + #""process_id":"onboarding","group_id":null,"phone":"+1 415 555 0001","email":null,"name":null,"#
                    + #""first_name":null,"last_name":null,"reference_id":"crm-10","metadata":{},"init":true,"#
                    + #""remote_lead_id":null,"attempt_count":0,"ambiguous":false,"next_attempt_at":null,"#
                    + #""created_at":"2024-05-01T11:40:00Z","updated_at":"2024-05-01T11:40:00Z","submitted_at":null,"#
                    + #""remote_id":null,"held_reason":null,"last_error":null,"invalid":null,"resubmit_of":null,"#
                    + #""replaced_by":[],"phone_held_by":1,"attempts":[]}"# + "\n")
        }
    }

    @Test func jsonCarriesTheMarkerAndHistory() async throws {
        try await Seed.with { db in
            let result = try await leadsync("lead", "show", "3", "--format", "json", db: db)
            let document = try JSONParser.parse(result.stdout)
            #expect(document["invalid"]?["reason"]?.stringValue == "api_duplicate_call")
            #expect(document["attempts"]?.arrayValue?.first?["result"]?.stringValue == "rejected")
            #expect(document["metadata"] == .object([]))
        }
    }

    @Test func unknownLeadIsAnError() async throws {
        try await Seed.with { db in
            let result = try await leadsync("lead", "show", "999", db: db)
            #expect(result.status == 1)
            #expect(result.stderr == "leadsync: no lead 999\n")
            #expect(result.stdout == "")
        }
    }

    @Test(arguments: [["lead", "show"], ["lead", "show", "x"], ["lead", "show", "3", "--format", "csv"]])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
    }
}

@Suite struct LeadResubmitCommandTests {
    @Test func invalidLeadGetsACorrectedCopyAndStaysInvalid() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "lead", "resubmit", "4", "--phone", "+1 415 555 0104", "--name", "Ada", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout
                    == "lead 4 resubmitted as lead 101 (pending, project acme; changed: phone, name); lead 4 stays invalid\n"
            )
            #expect(
                try await db.lines(
                    """
                    SELECT concat_ws('|', id, status, phone, name, process_id, reference_id, resubmit_of)
                    FROM leadsync.leads WHERE id IN (4, 101) ORDER BY id
                    """) == [
                        "4|invalid|n/a, \"ask\"|onboarding|crm-4", "101|pending|+1 415 555 0104|Ada|onboarding|crm-4|4",
                    ]
            )
            #expect(
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.invalid_leads WHERE lead_id = 4") == 1
            )

            let again = try await leadsync("lead", "resubmit", "4", "--phone", "+1 415 555 0105", db: db)
            #expect(again.status == 1)
            #expect(
                again.stderr
                    == "leadsync: lead 4 was already resubmitted as lead 101 (pending); resubmit that one instead\n")

            let show = try await leadsync("lead", "show", "4", db: db)
            #expect(show.stdout.contains("\nreplaced_by      lead 101 (pending)\n"))
            let copy = try await leadsync("lead", "show", "101", db: db)
            #expect(copy.stdout.contains("\nresubmit_of      lead 4\n"))
        }
    }

    @Test func heldLeadIsCancelledAndReplaced() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "lead", "resubmit", "8", "--email", "new@example.com", "--metadata", #"{"fixed": true}"#,
                "--process-id", "", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout
                    == "lead 8 resubmitted as lead 101 (pending, project acme; changed: process_id, email, metadata); "
                    + "lead 8 was held, now cancelled\n")
            #expect(
                try await db.lines(
                    """
                    SELECT concat_ws('|', id, status, coalesce(held_reason, '-'), coalesce(process_id, '-'), coalesce(email, '-'),
                                     metadata::text, coalesce(last_error, '-'))
                    FROM leadsync.leads WHERE id IN (8, 101) ORDER BY id
                    """) == [
                        "8|cancelled|-|onboarding|-|{}|replaced by lead 101 (leadsync lead resubmit)",
                        "101|pending|-|-|new@example.com|{\"fixed\": true}|-",
                    ])
        }
    }

    @Test func refusesLeadsThatAreAliveOrSent() async throws {
        try await Seed.with { db in
            for (id, status) in [("5", "pending"), ("1", "submitted")] {
                let result = try await leadsync("lead", "resubmit", id, "--phone", "+14155559999", db: db)
                #expect(result.status == 1)
                #expect(
                    result.stderr
                        == "leadsync: lead \(id) is \(status): only invalid, held or cancelled leads can be resubmitted\n"
                )
            }
            let badPhone = try await leadsync("lead", "resubmit", "4", db: db)
            #expect(badPhone.status == 1)
            #expect(
                badPhone.stderr
                    == "leadsync: the corrected lead would be rejected locally (local_invalid_phone): "
                    + "phone is not a phone number (8–15 digits, optional leading +)\n")
            let missing = try await leadsync("lead", "resubmit", "999", db: db)
            #expect(missing.stderr == "leadsync: no lead 999\n")
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads") == 14)
        }
    }

    @Test(arguments: [
        ["lead", "resubmit", "4", "--metadata", "[1]"], ["lead", "resubmit", "4", "--metadata", "{"],
        ["lead", "resubmit"], ["lead", "resubmit", "4", "--project", "other"],
    ])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
    }
}
