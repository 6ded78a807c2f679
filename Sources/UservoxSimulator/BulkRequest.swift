import Hummingbird
import WireJSON

/// One lead of a `leads` request with everything that needs no shared state worked out
/// before the project's lock is taken: its phone checked, its identity known.
struct IncomingLead: Sendable {
    enum Phone: Sendable, Equatable {
        /// Usable; `key` is its digits (`SimulatedPhone`).
        case valid(key: String)
        case invalid
        case repeatingDigits
    }

    let data: JSONValue
    let referenceId: String?
    let phoneText: String?
    let processId: String?
    let projectId: String?
    let phone: Phone
    /// (project, referenceId) or (project, normalized phone): who the lead is across requests.
    let identity: String

    init(_ data: JSONValue) {
        self.data = data
        referenceId = data["referenceId"]?.scalarText
        phoneText = data["phone"]?.scalarText
        processId = data["processId"]?.scalarText
        projectId = data["projectId"]?.scalarText
        var key: String?
        if let phoneText, let judged = SimulatedPhone.judge(phoneText) {
            key = judged.key
            phone = judged.repeatingDigits ? .repeatingDigits : .valid(key: judged.key)
        } else {
            phone = .invalid
        }
        if let referenceId {
            identity = "r:" + referenceId
        } else if let key {
            identity = "p:" + key
        } else {
            identity = "x:" + (phoneText ?? "")
        }
    }
}

/// A bulk initiate body that passed the request-level checks.
enum BulkRequest: Sendable {
    case leads([IncomingLead])
    case leadIds([String])

    var count: Int {
        switch self {
        case .leads(let leads): leads.count
        case .leadIds(let ids): ids.count
        }
    }

    /// The 400 checks, in the API's order. `nil` body means it was not JSON.
    static func parse(_ body: JSONValue?, maxLeads: Int) -> Result<BulkRequest, Rejection> {
        guard let body, body.objectValue != nil else {
            return .failure(.badRequest(UservoxMessage.leadsRequired))
        }
        // An absent or null member is "not provided", as in the service's JavaScript.
        let leadIds = body["leadIds"].flatMap { $0.isNull ? nil : $0 }
        let leads = body["leads"].flatMap { $0.isNull ? nil : $0 }
        guard let input = leadIds ?? leads else {
            return .failure(.badRequest(UservoxMessage.leadsRequired))
        }
        guard let items = input.arrayValue else {
            return .failure(.badRequest(UservoxMessage.notAnArray))
        }
        guard items.count <= maxLeads else {
            return .failure(.badRequest(UservoxMessage.tooManyLeads(maxLeads)))
        }
        if let flag = body["init"], !flag.isNull, flag.boolValue == nil {
            return .failure(.badRequest(UservoxMessage.initNotBoolean))
        }
        if leadIds != nil {
            return .success(.leadIds(items.map { $0.scalarText ?? $0.jsonString }))
        }
        return .success(.leads(items.map(IncomingLead.init)))
    }

    /// The 403 and 404 checks that refuse the whole request before any lead is processed.
    func check(project: SimulatorConfiguration.Project) -> Rejection? {
        guard case .leads(let leads) = self else { return nil }
        var invalid: [(JSONValue, String)] = []
        for lead in leads {
            if lead.projectId == nil {
                invalid.append((lead.data, UservoxMessage.missingProjectId))
            } else if lead.projectId != project.id {
                invalid.append((lead.data, UservoxMessage.projectIdMismatch))
            }
        }
        if !invalid.isEmpty { return .invalidProjectIds(invalid) }
        if let processes = project.processes {
            for lead in leads {
                if let processId = lead.processId, !processes.contains(processId) {
                    return .processNotFound(processId)
                }
            }
        }
        return nil
    }
}

/// A whole-request refusal and the JSON it is answered with.
enum Rejection: Error {
    case badRequest(String)
    case invalidProjectIds([(JSONValue, String)])
    case processNotFound(String)

    var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .invalidProjectIds: .forbidden
        case .processNotFound: .notFound
        }
    }

    var body: [UInt8] {
        switch self {
        case .badRequest(let message): return Answer.errorBody(message)
        case .processNotFound(let processId): return Answer.errorBody(UservoxMessage.processNotFound(processId))
        case .invalidProjectIds(let leads):
            var writer = JSONWriter(reservingCapacity: 256 * leads.count + 128)
            writer.beginObject()
            writer.key("error")
            writer.string(UservoxMessage.invalidProjectIds)
            writer.key("invalidLeads")
            writer.beginArray()
            for (data, error) in leads {
                writer.beginObject()
                writer.key("data")
                writer.value(data)
                writer.key("error")
                writer.string(error)
                writer.endObject()
            }
            writer.endArray()
            writer.endObject()
            return writer.bytes
        }
    }
}
