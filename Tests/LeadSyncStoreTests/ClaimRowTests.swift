import LeadSyncCore
import LeadSyncTesting
import NIOCore
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// The lane's claim reads its leads from one cell (`LeadQueries.claimTexts`: the
/// texts of every lead in one `text[]`, the project from the statement): the same `Lead` as reading
/// every column, whatever the texts hold.
@Suite struct ClaimRowTests {
    let logger = TestDatabase.logger

    @Test func aClaimedLeadIsTheStoredLeadWhateverItsTexts() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 2) { client in
                let store = LeadStore(client: client, logger: logger)
                let long = String(repeating: "é", count: 100)  // 200 bytes, the limit
                try await client.query(
                    """
                    INSERT INTO leadsync.leads (project_id, process_id, group_id, phone, email, name, first_name,
                                                last_name, reference_id, metadata, init, remote_lead_id)
                    VALUES ('acme', 'p"1', '{a,b}', '+14155550001', 'NULL', '', E'tab\\there\\nline', \(long),
                            E'back\\\\slash', '{"k": "v\\"q", "n": [1, {"x": null}], "u": "\\u00e9"}', false, ',,'),
                           ('acme', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{}', true, 'r-2'),
                           ('acme', '😀', ' ', '+14155550003', '"quoted"', '{}', '()', 'x', 'ls-3', '{}', true, NULL)
                    """, logger: logger)
                let claimed = try await store.arrivedLeads(project: "acme", lows: [0], highs: [.max], limit: 10)
                let stored = try await store.leads(
                    PostgresQuery(
                        unsafeSQL:
                            "SELECT \(LeadQueries.columns) FROM leadsync.leads WHERE project_id = 'acme' ORDER BY id"))
                #expect(claimed.count == 3)
                #expect(claimed == stored)
                #expect(claimed.first?.processId == "p\"1")
                #expect(claimed.first?.email == "NULL")
                #expect(claimed.first?.name == "")
                #expect(claimed.dropFirst().first?.processId == nil)
                // None: an empty claim. Two ranges and a limit: the first leads, in id order.
                #expect(try await store.arrivedLeads(project: "none", lows: [0], highs: [.max], limit: 10) == [])
                let ids = stored.map(\.id)
                let two = try await store.arrivedLeads(
                    project: "acme", lows: [ids[0], ids[2]], highs: [ids[0], ids[2]], limit: 2)
                #expect(two.map(\.id) == [ids[0], ids[2]])
                let one = try await store.arrivedLeads(project: "acme", lows: [0], highs: [.max], limit: 1)
                #expect(one.map(\.id) == [ids[0]])
                // The fallback for a claim too big for one row: the same leads, a row each.
                var perRow: [Lead] = []
                for try await lead in try await client.execute(
                    LeadQueries.ClaimArrivedRows(
                        LeadQueries.ClaimArrived(project: "acme", lows: [0], highs: [.max], limit: 10)),
                    logger: logger)
                {
                    perRow.append(lead)
                }
                #expect(perRow == claimed)
            }
        }
    }

    /// A value past PostgreSQL's limits (what a claim of leads with huge metadata meets) is
    /// told apart from other errors, so the claim falls back to a row per lead.
    @Test func aValuePastTheServersLimitsIsToldApart() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(maximumConnections: 1) { client in
                await #expect {
                    try await client.query("SELECT repeat('x', 1073741824)", logger: logger).collect()
                } throws: { LeadStore.isOversizedArray($0) }
                await #expect {
                    try await client.query("SELECT 1 / 0", logger: logger).collect()
                } throws: { !LeadStore.isOversizedArray($0) }
            }
        }
    }

    /// Bytes that are not a two-dimensional `text[]` of the expected width, or elements that
    /// are not what their field needs, are a decoding error, never a crash or a wrong field.
    @Test func malformedClaimTextsAreAnError() throws {
        func array(
            ndim: Int32 = 2, flags: Int32 = 0, oid: UInt32 = 25, rows: Int32 = 1, columns: Int32 = 2,
            elements: [String?]
        ) -> ByteBuffer {
            var buffer = ByteBuffer()
            for value in [ndim, flags] { buffer.writeInteger(value) }
            buffer.writeInteger(oid)
            for value in [rows, 1, columns, 1] { buffer.writeInteger(Int32(value)) }
            for element in elements {
                guard let element else {
                    buffer.writeInteger(Int32(-1))
                    continue
                }
                buffer.writeInteger(Int32(element.utf8.count))
                buffer.writeString(element)
            }
            return buffer
        }
        var good = try LeadQueries.PackedTexts(array(elements: ["a", nil]), columns: 2)
        #expect(good.rows == 1)
        #expect(try good.next() == "a")
        #expect(try good.next() == nil)
        #expect(good.atEnd)
        var numbers = try LeadQueries.PackedTexts(
            array(rows: 2, elements: ["9223372036854775807", "true", "0", "false"]), columns: 2)
        #expect(try numbers.int64() == Int64.max)
        #expect(try numbers.bool() == true)
        #expect(try numbers.int64() == 0)
        #expect(try numbers.bool() == false)

        for shape in [
            array(ndim: 1, elements: ["a", "b"]), array(oid: 23, elements: ["a", "b"]),
            array(columns: 3, elements: ["a", "b", "c"]), array(flags: 7, elements: ["a", "b"]),
            array(rows: -1, elements: []), array(rows: 1_000_000, elements: ["a", "b"]),
            ByteBuffer(bytes: [0, 0, 0]),
        ] {
            #expect(throws: (any Error).self) { try LeadQueries.PackedTexts(shape, columns: 2) }
        }
        for (elements, read) in [
            (["9223372036854775808", "x"], 0), (["-1", "x"], 0), (["", "x"], 0), (["1a", "x"], 0), ([nil, "x"], 0),
            (["x", "TRUE"], 1), (["x", nil], 1), (["x", "1"], 1),
        ] as [([String?], Int)] {
            var texts = try LeadQueries.PackedTexts(array(elements: elements), columns: 2)
            if read == 1 { _ = try texts.next() }
            #expect(throws: (any Error).self) {
                if read == 0 { _ = try texts.int64() } else { _ = try texts.bool() }
            }
        }
        var negative = try LeadQueries.PackedTexts(array(elements: ["a", "b"]).withLength(at: 28, -2), columns: 2)
        #expect(throws: (any Error).self) { try negative.next() }
        var truncated = try LeadQueries.PackedTexts(array(elements: ["a", "bb"]).dropLast(1), columns: 2)
        _ = try truncated.next()
        #expect(throws: (any Error).self) { try truncated.next() }
        var missing = try LeadQueries.PackedTexts(array(elements: [nil, "b"]), columns: 2)
        #expect(throws: (any Error).self) { try missing.required() }
    }
}

extension ByteBuffer {
    fileprivate func withLength(at offset: Int, _ length: Int32) -> ByteBuffer {
        var copy = self
        copy.setInteger(length, at: offset)
        return copy
    }

    fileprivate func dropLast(_ count: Int) -> ByteBuffer { getSlice(at: readerIndex, length: readableBytes - count)! }
}
