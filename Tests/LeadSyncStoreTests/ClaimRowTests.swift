import LeadSyncCore
import LeadSyncTesting
import NIOCore
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// The lane's claim reads a lead in five cells (`LeadQueries.packedColumns`: the optional
/// texts as one `text[]`, the project from the statement): the same `Lead` as reading
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
            }
        }
    }

    /// Bytes that are not a one-dimensional `text[]` of the expected length are a decoding
    /// error, never a crash or a wrong field.
    @Test func malformedPackedTextsAreAnError() throws {
        func array(ndim: Int32 = 1, flags: Int32 = 0, oid: UInt32 = 25, count: Int32 = 2, lengths: [Int32]) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(ndim)
            buffer.writeInteger(flags)
            buffer.writeInteger(oid)
            buffer.writeInteger(count)
            buffer.writeInteger(Int32(1))
            for length in lengths {
                buffer.writeInteger(length)
                if length > 0 { buffer.writeString(String(repeating: "a", count: Int(length))) }
            }
            return buffer
        }
        var good = try LeadQueries.PackedTexts(array(lengths: [1, -1]), count: 2)
        #expect(try good.next() == "a")
        #expect(try good.next() == nil)

        #expect(throws: (any Error).self) { try LeadQueries.PackedTexts(array(ndim: 2, lengths: [1, 1]), count: 2) }
        #expect(throws: (any Error).self) { try LeadQueries.PackedTexts(array(oid: 23, lengths: [1, 1]), count: 2) }
        #expect(throws: (any Error).self) { try LeadQueries.PackedTexts(array(count: 3, lengths: [1, 1]), count: 2) }
        #expect(throws: (any Error).self) { try LeadQueries.PackedTexts(array(flags: 7, lengths: [1, 1]), count: 2) }
        #expect(throws: (any Error).self) { try LeadQueries.PackedTexts(ByteBuffer(bytes: [0, 0, 0]), count: 2) }
        var negative = try LeadQueries.PackedTexts(array(lengths: [-2, 1]), count: 2)
        #expect(throws: (any Error).self) { try negative.next() }
        var truncated = try LeadQueries.PackedTexts(array(lengths: [1]), count: 2)
        _ = try truncated.next()
        #expect(throws: (any Error).self) { try truncated.next() }
        var tooLong = try LeadQueries.PackedTexts(array(lengths: [1, 1]).getSlice(at: 0, length: 24)!, count: 2)
        #expect(throws: (any Error).self) { try tooLong.next() }
        var missing = try LeadQueries.PackedTexts(array(lengths: [-1, 1]), count: 2)
        #expect(throws: (any Error).self) { try missing.required() }
    }
}
