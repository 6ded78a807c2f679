import LeadSyncCore
import WireJSON

/// Writes the Bulk Initiate body for one batch, each field encoded once, no reflection.
/// About 150 KB for 1000 leads; see README for what it costs.
public enum RequestBody {
    public static func encode(_ batch: BatchPlanner.Batch) -> [UInt8] {
        encode(batch, maxBytes: .max).bytes
    }

    /// docs/contract.md §3.4 `local_lead_too_large`: the lead's request body on its own
    /// exceeds `maxBytes`. One rule for the worker and `leadsync check`.
    public static func tooLargeAlone(_ lead: Lead, maxBytes: Int) -> LeadValidator.Verdict? {
        let alone = BatchPlanner.Batch(mode: lead.mode, initialize: lead.initialize, leads: [lead])
        guard encode(alone, maxBytes: maxBytes).count == 0 else { return nil }
        return LeadValidator.Verdict(
            reason: .localLeadTooLarge,
            message:
                "the lead alone is \(encode(alone).count) bytes of request body; the project allows \(maxBytes) (max_request_bytes)"
        )
    }

    /// The body of the longest prefix of `batch` whose encoding fits in `maxBytes`
    /// (docs/contract.md §4: a request is bounded by bytes as well as by count), and how
    /// many leads it holds: 0 when even the first lead alone is too large. Each lead is
    /// written once; the one that overflows is taken back.
    public static func encode(_ batch: BatchPlanner.Batch, maxBytes: Int) -> (bytes: [UInt8], count: Int) {
        var writer = JSONWriter(reservingCapacity: min(maxBytes, 64 + batch.leads.count * 192))
        // What closes the body after the last lead: `]`, `,"init":true` or `,"init":false`, `}`.
        let closing = batch.initialize ? 14 : 15
        var count = 0
        writer.beginObject()
        switch batch.mode {
        case .leads:
            writer.key("leads")
            writer.beginArray()
            for lead in batch.leads {
                let mark = writer.mark
                writer.beginObject()
                writer.field(literal: "projectId", lead.projectId)
                writer.field(literal: "processId", lead.processId)
                writer.field(literal: "groupId", lead.groupId)
                writer.field(literal: "phone", lead.phone)
                writer.field(literal: "email", lead.email)
                writer.field(literal: "name", lead.name)
                writer.field(literal: "firstName", lead.firstName)
                writer.field(literal: "lastName", lead.lastName)
                writer.field(literal: "referenceId", lead.wireReferenceId)
                writer.key(literal: "metadata")
                // PostgreSQL printed it from jsonb: already valid JSON.
                writer.raw(lead.metadata.utf8)
                writer.endObject()
                if writer.bytes.count + closing > maxBytes {
                    writer.rollBack(to: mark)
                    break
                }
                count += 1
            }
            writer.endArray()
        case .leadIds:
            writer.key("leadIds")
            writer.beginArray()
            for lead in batch.leads {
                let mark = writer.mark
                writer.string(lead.remoteLeadId ?? "")
                if writer.bytes.count + closing > maxBytes {
                    writer.rollBack(to: mark)
                    break
                }
                count += 1
            }
            writer.endArray()
        }
        writer.key("init")
        writer.bool(batch.initialize)
        writer.endObject()
        return (writer.bytes, count)
    }
}
