/// The columns of `leadsync.leads` a writer sets (docs/contract.md §1.1), in the table's
/// order: what `leadsync import` maps a file's headers or keys to. The rules a value must
/// pass are the table's own CHECK constraints, read from the database, not listed here.
public enum LeadColumn: String, CaseIterable, Sendable {
    case projectId = "project_id"
    case processId = "process_id"
    case groupId = "group_id"
    case phone
    case email
    case name
    case firstName = "first_name"
    case lastName = "last_name"
    case referenceId = "reference_id"
    case metadata
    case initialize = "init"
    case remoteLeadId = "remote_lead_id"

    /// How a file's text becomes the column's value.
    public enum Kind: Sendable {
        case text
        /// jsonb: the text must be JSON PostgreSQL accepts.
        case json
        case boolean
    }

    public var kind: Kind {
        switch self {
        case .metadata: return .json
        case .initialize: return .boolean
        default: return .text
        }
    }
}
