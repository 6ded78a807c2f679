import Hummingbird
import WireJSON

/// Builds the simulator's JSON answers with `JSONWriter` (Foundation's encoder is far too
/// slow for 1000-lead bodies).
enum Answer {
    static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8], retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) -> Response {
        json(status, errorBody(message), retryAfter: retryAfter)
    }

    static func errorBody(_ message: String) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: message.utf8.count + 16)
        writer.beginObject()
        writer.key("error")
        writer.string(message)
        writer.endObject()
        return writer.bytes
    }

    static let ok: [UInt8] = Array(#"{"ok":true}"#.utf8)

    /// The 200 body: `success` in request order, then `errors` in request order.
    static func bulkBody(_ request: BulkRequest, _ outcomes: [LeadOutcome], simplified: Bool, sizeHint: Int)
        -> [UInt8]
    {
        var writer = JSONWriter(reservingCapacity: sizeHint + 64 * outcomes.count + 64)
        writer.beginObject()
        writer.key("success")
        writer.beginArray()
        switch request {
        case .leads(let leads):
            for (lead, outcome) in zip(leads, outcomes) {
                guard case .accepted(let id) = outcome else { continue }
                writer.beginObject()
                if simplified {
                    writer.field("id", id)
                    writer.field("referenceId", lead.referenceId)
                    writer.field("phone", lead.phoneText)
                } else {
                    // The lead as received, plus its id and status.
                    for (name, value) in lead.data.objectValue ?? [] where name != "id" && name != "status" {
                        writer.key(name)
                        writer.value(value)
                    }
                    writer.field("id", id)
                    writer.field("status", "initiated")
                }
                writer.endObject()
            }
        case .leadIds(let ids):
            for (leadId, outcome) in zip(ids, outcomes) {
                guard case .accepted = outcome else { continue }
                writer.beginObject()
                writer.field("id", leadId)
                writer.field("leadId", leadId)
                writer.endObject()
            }
        }
        writer.endArray()
        writer.key("errors")
        writer.beginArray()
        switch request {
        case .leads(let leads):
            for (lead, outcome) in zip(leads, outcomes) {
                guard case .rejected(let message) = outcome else { continue }
                writer.beginObject()
                writer.key("data")
                writer.value(lead.data)
                writer.field("referenceId", lead.referenceId)
                writer.field("error", message)
                writer.endObject()
            }
        case .leadIds(let ids):
            for (leadId, outcome) in zip(ids, outcomes) {
                guard case .rejected(let message) = outcome else { continue }
                writer.beginObject()
                writer.key("data")
                writer.beginObject()
                writer.field("leadId", leadId)
                writer.endObject()
                writer.field("leadId", leadId)
                writer.field("error", message)
                writer.endObject()
            }
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }
}
