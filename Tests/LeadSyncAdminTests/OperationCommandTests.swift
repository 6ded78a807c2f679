import Foundation
import LeadSyncTesting
import Testing

@Suite struct ProjectCommandTests {
    @Test func pauseThenResumeReleasesLeadsHeldForTheProject() async throws {
        try await Seed.with { db in
            let pause = try await leadsync("project", "pause", "acme", "--reason", "maintenance", db: db)
            #expect(pause.status == 0, "\(pause)")
            #expect(
                pause.stdout == "paused project acme (maintenance); its leads wait until leadsync project resume acme\n"
            )
            #expect(
                try await db.lines(
                    "SELECT concat_ws('|', paused, pause_reason) FROM leadsync.projects WHERE project_id = 'acme'")
                    == ["t|maintenance"])
            // Pausing holds nothing: pending leads wait as they are.
            #expect(
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE status = 'pending'") == 6)

            let resume = try await leadsync("project", "resume", "beta", db: db)
            #expect(resume.status == 0, "\(resume)")
            #expect(
                resume.stdout
                    == "resumed project beta (was paused: project_inactive: Project is inactive); "
                    + "released 2 held leads (project_inactive 2)\n")
            #expect(
                try await db.lines(
                    "SELECT id || ' ' || status FROM leadsync.leads WHERE project_id = 'beta' ORDER BY id")
                    == ["12 pending", "13 pending", "14 pending"])

            let again = try await leadsync("project", "resume", "beta", db: db)
            #expect(again.stdout == "project beta was not paused; no held leads to release\n")

            // acme's bad_request lead is not the project's fault: resume leaves it held.
            let acme = try await leadsync("project", "resume", "acme", db: db)
            #expect(acme.stdout == "resumed project acme (was paused: maintenance); no held leads to release\n")
            #expect(try await db.value(String.self, "SELECT status FROM leadsync.leads WHERE id = 8") == "held")
        }
    }

    @Test func setChangesOnlyWhatIsGiven() async throws {
        try await Seed.with { db in
            let result = try await leadsync(
                "project", "set", "acme", "--rate", "50", "--window", "2.5", "--max-batch", "500", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout
                    == "project acme: rate 50/2.5s, max batch 500, max in flight 4, max attempts 8, max request bytes 1048576\n"
            )
            let more = try await leadsync(
                "project", "set", "acme", "--window", "1m", "--max-in-flight", "2", "--max-attempts", "3", db: db)
            #expect(
                more.stdout
                    == "project acme: rate 50/1m, max batch 500, max in flight 2, max attempts 3, max request bytes 1048576\n"
            )
            let bytes = try await leadsync("project", "set", "acme", "--max-request-bytes", "524288", db: db)
            #expect(bytes.stdout.hasSuffix("max request bytes 524288\n"), "\(bytes)")
            let tooSmall = try await leadsync("project", "set", "acme", "--max-request-bytes", "10", db: db)
            #expect(tooSmall.status == 2, "\(tooSmall)")
            #expect(
                try await db.lines(
                    """
                    SELECT concat_ws('|', rate_limit_requests, rate_limit_window, max_batch_size, max_in_flight, max_attempts)
                    FROM leadsync.projects ORDER BY project_id
                    """) == ["50|00:01:00|500|2|3", "100|00:00:05|1000|4|8"])
        }
    }

    @Test func unknownProjectIsAnError() async throws {
        try await Seed.with { db in
            for arguments in [
                ["project", "pause", "nope"], ["project", "resume", "nope"], ["project", "set", "nope", "--rate", "1"],
            ] {
                let result = try await leadsync(arguments, db: db)
                #expect(result.status == 1, "\(arguments)")
                #expect(result.stderr == "leadsync: no project 'nope' (leadsync project list shows them)\n")
            }
        }
    }

    @Test(arguments: [
        ["project", "pause"], ["project", "set", "acme"],
        ["project", "set", "acme", "--max-batch", "2000"],
        ["project", "set", "acme", "--rate", "0"], ["project", "set", "acme", "--window", "soon"],
        ["project", "set", "acme", "--max-in-flight", "0"], ["project", "list", "--format", "xml"],
    ])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
    }

    @Test func listIsTheDefault() async throws {
        try await Seed.with { db in
            let result = try await leadsync("project", db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasPrefix("PROJECT  STATE     RATE"))
        }
    }
}

@Suite struct ReleaseCommandTests {
    @Test func releasesByProjectAndReason() async throws {
        try await Seed.with { db in
            try await db.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE leadsync.leads SET status = 'held', held_reason = 'retries_exhausted', attempt_count = 8
                    WHERE id = 6
                    """, logger: db.logger)
            }
            let one = try await leadsync("release", "--project", "acme", "--reason", "retries_exhausted", db: db)
            #expect(one.status == 0, "\(one)")
            #expect(
                one.stdout == """
                    PROJECT  REASON             RELEASED
                    acme     retries_exhausted         1
                    released 1 held lead to pending

                    """)
            // A fresh round of attempts; still held: the bad_request one.
            #expect(
                try await db.lines(
                    "SELECT concat_ws('|', id, status, attempt_count) FROM leadsync.leads WHERE id IN (6, 8) ORDER BY id"
                )
                    == ["6|pending|0", "8|held|1"])

            let rest = try await leadsync("release", db: db)
            #expect(rest.status == 0, "\(rest)")
            #expect(
                rest.stdout == """
                    PROJECT  REASON            RELEASED
                    acme     bad_request              1
                    beta     project_inactive         2
                    released 3 held leads to pending
                    note: project beta is paused; its leads wait until leadsync project resume beta

                    """)
            #expect(
                try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE status = 'held'") == 0)

            let nothing = try await leadsync("release", db: db)
            #expect(nothing.stdout == "no held leads matched; nothing released\n")
        }
    }

    @Test(arguments: [
        ["release", "--reason", "bogus"], ["release", "--reason", "local_duplicate"], ["release", "x"],
    ])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
    }
}

@Suite struct PruneCommandTests {
    @Test func deletesOnlyOldHistory() async throws {
        try await Seed.with { db in
            let dry = try await leadsync("prune", "--older-than", "30d", "--dry-run", "--now", Seed.now, db: db)
            #expect(dry.status == 0, "\(dry)")
            #expect(
                dry.stdout
                    == "would delete 1 attempt_leads row of 1 request started before 2024-04-01T12:00:00Z "
                    + "(dry run: nothing deleted)\n")
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.attempt_leads") == 7)

            let real = try await leadsync("prune", "--older-than", "30d", "--now", Seed.now, db: db)
            #expect(real.status == 0, "\(real)")
            #expect(
                real.stdout
                    == "deleted 1 attempt_leads row of 1 request started before 2024-04-01T12:00:00Z; "
                    + "leads, invalid markers and the requests themselves are kept\n")
            #expect(
                try await db.lines("SELECT attempt_id || '/' || lead_id FROM leadsync.attempt_leads ORDER BY 1")
                    == ["1/1", "1/3", "2/7", "4/12", "4/13", "6/7"])

            // An hour back reaches requests 1 and 4 (request 2 started at 11:00 exactly).
            let most = try await leadsync("prune", "--older-than", "1h", "--now", Seed.now, db: db)
            #expect(
                most.stdout
                    == "deleted 4 attempt_leads rows of 2 requests started before 2024-05-01T11:00:00Z; "
                    + "leads, invalid markers and the requests themselves are kept\n")
            #expect(
                try await db.lines("SELECT attempt_id || '/' || lead_id FROM leadsync.attempt_leads ORDER BY 1")
                    == ["2/7", "6/7"])
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads") == 14)
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.invalid_leads") == 2)
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.submission_attempts") == 6)
        }
    }

    @Test(arguments: [
        ["prune"], ["prune", "--older-than", "0s"], ["prune", "--older-than", "30 days"],
        ["prune", "--older-than", "-1d"],
    ])
    func badArgumentsExitTwo(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 2, "\(result)")
    }
}
