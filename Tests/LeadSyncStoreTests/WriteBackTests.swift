import LeadSyncCore
import LeadSyncTesting
import Logging
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// One request's write-back (docs/contract.md §2, §3): accepted leads take a lean path, the rest the
/// general one; both must leave every lead in its state with one history row each.
@Suite struct WriteBackTests {
    let logger = TestDatabase.logger

    @Test func mixedAnswerLeavesEveryLeadInItsStateWithOneHistoryRowEach() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)

                let ids = try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone, remote_id)
                    VALUES ('acme', '+14155550001', NULL), ('acme', '+14155550002', 'kept'),
                           ('acme', '+14155550003', NULL), ('acme', '+14155550004', NULL),
                           ('acme', '+14155550005', NULL)
                    RETURNING id
                    """, logger: logger
                ).collect().map { try $0.decode(Int64.self) }
                let attempt = try await client.query(
                    "INSERT INTO leadsync.submission_attempts (project_id, worker_id, lead_count) VALUES ('acme', 't', 5) RETURNING id",
                    logger: logger
                ).collect().first!.decode(Int64.self)
                // The fifth lead was cancelled by an operator meanwhile: the write-back leaves it.
                try await client.query(
                    "UPDATE leadsync.leads SET status = 'cancelled' WHERE id = \(ids[4])", logger: logger)

                let leads = ids.map { Lead(id: $0, projectId: "acme", phone: "+1415555000\($0)") }
                let plan = OutcomePlanner.plan(
                    answer: .processed([
                        ids[0]: .accepted(remoteId: "r-1"), ids[1]: .accepted(remoteId: nil),
                        ids[2]: .rejected(message: "Invalid phone number"), ids[3]: .unconfirmed,
                        ids[4]: .accepted(remoteId: "r-5"),
                    ]),
                    leads: leads, context: .init(maxAttempts: 8, currentBatchSize: 1000, random: { _ in 0 }))
                try await store.writeBack(project: "acme", attemptId: attempt, httpStatus: 200, plan: plan)

                let rows = try await client.query(
                    """
                    SELECT l.status, coalesce(l.remote_id, ''), l.attempt_count, (l.submitted_at IS NOT NULL),
                           coalesce(a.result, ''), (SELECT count(*) FROM leadsync.attempt_leads x WHERE x.lead_id = l.id)
                    FROM leadsync.leads l
                    LEFT JOIN leadsync.attempt_leads a ON a.lead_id = l.id AND a.attempt_id = \(attempt)
                    ORDER BY l.id
                    """, logger: logger
                ).collect().map { try $0.decode((String, String, Int, Bool, String, Int).self) }
                // Unconfirmed: not resent (docs/contract.md §3), so it ends submitted, its history says unconfirmed.
                #expect(rows.map(\.0) == ["submitted", "submitted", "invalid", "submitted", "cancelled"])
                #expect(rows.map(\.1) == ["r-1", "kept", "", "", ""])
                #expect(rows.map(\.2) == [1, 1, 1, 1, 0])
                #expect(rows.map(\.3) == [true, true, false, true, false])
                #expect(rows.map(\.4) == ["accepted", "accepted", "rejected", "unconfirmed", "accepted"])
                #expect(rows.map(\.5) == [1, 1, 1, 1, 1])

                let marker = try await client.query(
                    "SELECT reason, message, source FROM leadsync.invalid_leads WHERE lead_id = \(ids[2])",
                    logger: logger
                ).collect().map { try $0.decode((String, String, String).self) }
                #expect(marker.count == 1)
                #expect(marker.first?.0 == "api_rejected")
                #expect(marker.first?.1 == "Invalid phone number")
                #expect(marker.first?.2 == "api")

                let finished = try await client.query(
                    "SELECT outcome, success_count, error_count, unconfirmed_count FROM leadsync.submission_attempts WHERE id = \(attempt) AND finished_at IS NOT NULL",
                    logger: logger
                ).collect().map { try $0.decode((String, Int, Int, Int).self) }
                #expect(finished.count == 1)
                #expect(finished.first?.0 == "partial")
            }
        }
    }

    @Test func allAcceptedIsWrittenBackWhole() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                let ids = try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    SELECT 'acme', '+1415555' || lpad(i::text, 4, '0') FROM generate_series(1, 300) AS i
                    RETURNING id
                    """, logger: logger
                ).collect().map { try $0.decode(Int64.self) }
                let attempt = try await client.query(
                    """
                    INSERT INTO leadsync.submission_attempts (project_id, worker_id, lead_count, lead_ids, lease_expires_at)
                    VALUES ('acme', 't', 300, \(ids), now() + interval '1 minute') RETURNING id
                    """,
                    logger: logger
                ).collect().first!.decode(Int64.self)
                let leads = ids.map { Lead(id: $0, projectId: "acme", phone: "+1415555\($0)") }
                let plan = OutcomePlanner.plan(
                    answer: .processed(
                        Dictionary(uniqueKeysWithValues: ids.map { ($0, .accepted(remoteId: "r\($0)")) })),
                    leads: leads, context: .init(maxAttempts: 8, currentBatchSize: 1000, random: { _ in 0 }))
                try await store.writeBack(project: "acme", attemptId: attempt, httpStatus: 200, plan: plan)

                let leadRows = try await client.query(
                    """
                    SELECT count(*) FILTER (WHERE status = 'submitted' AND remote_id = 'r' || id AND attempt_count = 1
                                                  AND submitted_at IS NOT NULL),
                           (SELECT count(*) FROM leadsync.attempt_leads WHERE attempt_id = \(attempt) AND result = 'accepted')
                    FROM leadsync.leads
                    """, logger: logger
                ).collect().map { try $0.decode((Int, Int).self) }
                #expect(leadRows.first?.0 == 300)
                #expect(leadRows.first?.1 == 300)
                let finished = try await client.query(
                    """
                    SELECT outcome, http_status, success_count, lead_ids IS NULL, lease_expires_at IS NULL
                    FROM leadsync.submission_attempts WHERE id = \(attempt) AND finished_at IS NOT NULL
                    """, logger: logger
                ).collect().map { try $0.decode((String, Int, Int, Bool, Bool).self) }
                #expect(finished.first?.0 == "ok")
                #expect(finished.first?.1 == 200)
                #expect(finished.first?.2 == 300)
                #expect(finished.first?.3 == true)
                #expect(finished.first?.4 == true)
            }
        }
    }

    /// Several requests' all-accepted answers in one statement (the worker's group commit):
    /// each attempt gets its own leads, counts and status; a pruned attempt gets nothing.
    @Test func severalAllAcceptedAnswersAreWrittenInOneStatement() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                var attempts: [(id: Int64, leads: [Int64])] = []
                for (project, count) in [("acme", 3), ("beta", 2), ("gone", 2)] {
                    let ids = try await client.query(
                        """
                        INSERT INTO leadsync.leads (project_id, phone)
                        SELECT \(project), '+1415555' || lpad(i::text, 4, '0') FROM generate_series(1, \(count)) AS i
                        RETURNING id
                        """, logger: logger
                    ).collect().map { try $0.decode(Int64.self) }
                    let attempt = try await client.query(
                        """
                        INSERT INTO leadsync.submission_attempts (project_id, worker_id, lead_count, lead_ids, lease_expires_at)
                        VALUES (\(project), 't', \(count), \(ids), now() + interval '1 minute') RETURNING id
                        """, logger: logger
                    ).collect().first!.decode(Int64.self)
                    attempts.append((attempt, ids))
                }
                try await client.query(
                    "DELETE FROM leadsync.submission_attempts WHERE id = \(attempts[2].id)", logger: logger)

                let written = try await store.finishAllAccepted(
                    attempts.enumerated().map { index, attempt in
                        LeadStore.AcceptedWriteBack(
                            attemptId: attempt.id, httpStatus: 200 + index, leadIds: attempt.leads,
                            remoteIds: attempt.leads.map { "r\($0)" })
                    })
                #expect(written == [attempts[0].id, attempts[1].id])

                let leads = try await client.query(
                    """
                    SELECT l.project_id, l.status, coalesce(l.remote_id, ''), l.attempt_count,
                           coalesce((SELECT string_agg(a.attempt_id::text || ':' || a.result, ',')
                                     FROM leadsync.attempt_leads a WHERE a.lead_id = l.id), '')
                    FROM leadsync.leads l ORDER BY l.id
                    """, logger: logger
                ).collect().map { try $0.decode((String, String, String, Int, String).self) }
                for (project, status, remoteId, count, history) in leads {
                    let attempt = attempts[["acme": 0, "beta": 1, "gone": 2][project]!]
                    if project == "gone" {
                        #expect(status == "pending" && remoteId == "" && count == 0 && history == "")
                    } else {
                        #expect(status == "submitted" && remoteId.hasPrefix("r") && count == 1)
                        #expect(history == "\(attempt.id):accepted")
                    }
                }
                let finished = try await client.query(
                    """
                    SELECT id, outcome, http_status, success_count, lead_ids IS NULL AND lease_expires_at IS NULL
                    FROM leadsync.submission_attempts WHERE finished_at IS NOT NULL ORDER BY id
                    """, logger: logger
                ).collect().map { try $0.decode((Int64, String, Int, Int, Bool).self) }
                #expect(finished.map(\.0) == [attempts[0].id, attempts[1].id])
                #expect(finished.map(\.1) == ["ok", "ok"])
                #expect(finished.map(\.2) == [200, 201])
                #expect(finished.map(\.3) == [3, 2])
                #expect(finished.map(\.4) == [true, true])
            }
        }
    }
}
