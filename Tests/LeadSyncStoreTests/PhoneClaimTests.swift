import LeadSyncCore
import LeadSyncTesting
import Logging
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// Local dedupe (docs/contract.md §3 `local_duplicate`): the earliest vetted lead holds its phone in the
/// project while it is pending or submitted; a phone whose holder ended otherwise is taken.
@Suite struct PhoneClaimTests {
    let logger = TestDatabase.logger

    @Test func freePhonesAreClaimedHeldOnesJudgedByTheirHolder() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                // Leads 0-2 are first; 3 repeats 0's phone; 4 repeats 1's phone, whose holder
                // becomes invalid; 5 repeats 2's phone in another project; 6 has a new phone.
                let ids = try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    VALUES ('acme', '+14155550001'), ('acme', '+14155550002'), ('acme', '+14155550003'),
                           ('acme', '+14155550001'), ('acme', '+14155550002'), ('other', '+14155550003'),
                           ('acme', '+14155550009')
                    RETURNING id
                    """, logger: logger
                ).collect().map { try $0.decode(Int64.self) }
                let keys = ["14155550001", "14155550002", "14155550003"]

                let first = try await store.claimPhones(project: "acme", keys: keys, leadIds: Array(ids[0...2]))
                #expect(first == Set(ids[0...2]))
                // Claiming again is harmless: a lead keeps its own phone.
                let again = try await store.claimPhones(project: "acme", keys: keys, leadIds: Array(ids[0...2]))
                #expect(again == Set(ids[0...2]))

                try await client.query(
                    "UPDATE leadsync.leads SET status = 'invalid' WHERE id = \(ids[1])", logger: logger)
                let later = try await store.claimPhones(
                    project: "acme", keys: [keys[0], keys[1], "14155550009"],
                    leadIds: [ids[3], ids[4], ids[6]])
                // ids[3]: ids[0], still pending, holds it; ids[4] takes the phone of an invalid
                // lead; ids[6] claims a free phone.
                #expect(later == [ids[4], ids[6]])
                let other = try await store.claimPhones(project: "other", keys: [keys[2]], leadIds: [ids[5]])
                #expect(other == [ids[5]])

                let holders = try await client.query(
                    "SELECT project_id || ' ' || phone_key || ' ' || lead_id FROM leadsync.phone_claims ORDER BY 1",
                    logger: logger
                ).collect().map { try $0.decode(String.self) }
                #expect(
                    holders == [
                        "acme 14155550001 \(ids[0])", "acme 14155550002 \(ids[4])", "acme 14155550003 \(ids[2])",
                        "acme 14155550009 \(ids[6])", "other 14155550003 \(ids[5])",
                    ])
            }
        }
    }

    /// A phone claimed by another transaction between this claim's probe and its insert:
    /// the plain insert fails on the key, and every phone is judged again the careful way.
    @Test func aPhoneClaimedMeanwhileIsJudgedAgainNotLost() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 3) { client in
                let store = LeadStore(client: client, logger: logger)
                let ids = try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    VALUES ('acme', '+14155550001'), ('acme', '+14155550001'), ('acme', '+14155550002')
                    RETURNING id
                    """, logger: logger
                ).collect().map { try $0.decode(Int64.self) }

                try await db.withConnection { other in
                    // Another claimer holds the phone in a transaction it has not committed.
                    try await other.query("BEGIN", logger: logger)
                    try await other.query(
                        "INSERT INTO leadsync.phone_claims VALUES ('acme', '14155550001', \(ids[0]))", logger: logger)
                    try await withThrowingTaskGroup(of: Set<Int64>.self) { claims in
                        claims.addTask {
                            try await store.claimPhones(
                                project: "acme", keys: ["14155550001", "14155550002"], leadIds: [ids[1], ids[2]])
                        }
                        try await waitUntil("the claim waits on the uncommitted phone") {
                            try await client.query(
                                """
                                SELECT count(*)::int8 FROM pg_stat_activity
                                WHERE datname = current_database() AND wait_event_type = 'Lock'
                                  AND query LIKE '%phone_claims%'
                                """, logger: logger
                            ).collect().first!.decode(Int.self) == 1
                        }
                        try await other.query("COMMIT", logger: logger)
                        let held = try await claims.next()
                        #expect(held == [ids[2]])
                    }
                }
                let holders = try await client.query(
                    "SELECT phone_key || ' ' || lead_id FROM leadsync.phone_claims ORDER BY 1", logger: logger
                ).collect().map { try $0.decode(String.self) }
                #expect(holders == ["14155550001 \(ids[0])", "14155550002 \(ids[2])"])
            }
        }
    }

    /// Two claimers of one project at once (a project changing owner): whichever order the
    /// server runs them in, each phone ends with exactly one holder and only that lead is told
    /// it holds it.
    @Test func concurrentClaimsOfOnePhoneLeaveOneHolder() async throws {
        try await twoClaimersOfTheSamePhones { store, keys, leadIds in
            try await store.claimPhones(project: "acme", keys: keys, leadIds: leadIds)
        }
    }

    /// Never-tried leads' phones go with their attempt, without the probe; one held phone
    /// fails that attempt whole (nothing recorded, nothing claimed), and the phones are then
    /// judged the careful way: none lost, the earliest live holder kept, and a lead that
    /// already holds its own phone keeps it. A project whose claims met a held phone claims
    /// its next ones first, until they meet none.
    @Test func phonesClaimedWithAnAttemptMeetingAHeldPhoneAreJudgedLikeAnyOther() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 4) { client in
                let store = LeadStore(client: client, logger: logger)
                let ids = try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    VALUES ('acme', '+14155550001'), ('acme', '+14155550001'), ('acme', '+14155550002'),
                           ('acme', '+14155550003'), ('acme', '+14155550004')
                    RETURNING id
                    """, logger: logger
                ).collect().map { try $0.decode(Int64.self) }
                let keys = ["14155550001", "14155550002", "14155550003", "14155550004"]
                try await db.withProjectLocked("acme") { lock async throws in
                    func attempt(_ keys: [String], _ leadIds: [Int64]) async throws -> LeadStore.AttemptRecord {
                        try await store.startAttempt(
                            project: "acme", workerId: "w1", leadIds: leadIds, lease: .seconds(45), lock: lock,
                            phones: (keys, leadIds))
                    }
                    func attempts() async throws -> Int64? {
                        try await client.query("SELECT count(*) FROM leadsync.submission_attempts", logger: logger)
                            .collect().first?.decode(Int64.self)
                    }

                    #expect(store.defersPhoneClaims(project: "acme"))
                    #expect(try await attempt([keys[0]], [ids[0]]) != .phoneHeld)
                    // ids[1] repeats ids[0]'s phone: nothing recorded, not even ids[2]'s claim.
                    #expect(try await attempt([keys[0], keys[1]], [ids[1], ids[2]]) == .phoneHeld)
                    #expect(try await attempts() == 1)
                    #expect(!store.defersPhoneClaims(project: "acme"))
                    // Judged: ids[1] refused, and ids[2] gets its own.
                    #expect(
                        try await store.refusedPhones(
                            project: "acme", keys: [keys[0], keys[1]], leadIds: [ids[1], ids[2]])
                            == [ids[1]])
                    // Claims that meet no held phone: the next go with their attempt again.
                    #expect(try await store.refusedPhones(project: "acme", keys: [keys[2]], leadIds: [ids[3]]) == [])
                    #expect(store.defersPhoneClaims(project: "acme"))
                    // A lead that holds its own phone already keeps it.
                    #expect(try await store.refusedPhones(project: "acme", keys: [keys[2]], leadIds: [ids[3]]) == [])
                    #expect(try await attempt([keys[3]], [ids[4]]) != .phoneHeld)
                    #expect(try await attempts() == 2)
                }

                let holders = try await client.query(
                    "SELECT phone_key || ' ' || lead_id FROM leadsync.phone_claims ORDER BY 1", logger: logger
                ).collect().map { try $0.decode(String.self) }
                #expect(
                    holders == [
                        "14155550001 \(ids[0])", "14155550002 \(ids[2])", "14155550003 \(ids[3])",
                        "14155550004 \(ids[4])",
                    ])
            }
        }
    }

    /// 400 leads of one project on 200 phones, claimed by two claimers at once, 200 leads
    /// each; `claim` says which of its leads hold their phone.
    private func twoClaimersOfTheSamePhones(
        _ claim: @escaping @Sendable (LeadStore, [String], [Int64]) async throws -> Set<Int64>
    ) async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 4) { client in
                let store = LeadStore(client: client, logger: logger)
                let ids = try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, phone)
                    SELECT 'acme', '+1415555' || lpad((i % 200)::text, 4, '0') FROM generate_series(0, 399) AS i
                    RETURNING id
                    """, logger: logger
                ).collect().map { try $0.decode(Int64.self) }
                let keys = (0..<200).map {
                    "1415555" + String(repeating: "0", count: 4 - String($0).count) + String($0)
                }
                async let a = claim(store, keys, Array(ids[0..<200]))
                async let b = claim(store, keys, Array(ids[200..<400]))
                let (heldByA, heldByB) = try await (a, b)
                #expect(heldByA.isDisjoint(with: heldByB))
                #expect(heldByA.count + heldByB.count == 200)
                let claims = try await client.query(
                    "SELECT count(*)::int8, count(DISTINCT phone_key)::int8 FROM leadsync.phone_claims", logger: logger
                ).collect().map { try $0.decode((Int, Int).self) }
                #expect(claims.first?.0 == 200)
                #expect(claims.first?.1 == 200)
                let stored = Set(
                    try await client.query("SELECT lead_id FROM leadsync.phone_claims", logger: logger)
                        .collect().map { try $0.decode(Int64.self) })
                #expect(stored == heldByA.union(heldByB))
                #expect(stored.count == 200)
            }
        }
    }
}
