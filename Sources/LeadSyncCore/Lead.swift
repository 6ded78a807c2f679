/// A lead as the worker reads it from `leadsync.leads` (docs/contract.md §1).
public struct Lead: Sendable, Equatable {
    public var id: Int64
    public var projectId: String
    public var processId: String?
    public var groupId: String?
    public var phone: String? { didSet { phoneKey = Self.phoneKey(phone: phone, remoteLeadId: remoteLeadId) } }
    public var email: String?
    public var name: String?
    public var firstName: String?
    public var lastName: String?
    public var referenceId: String?
    /// `metadata` as PostgreSQL prints it: already a JSON object, passed through untouched.
    public var metadata: String
    /// Sent as `init`.
    public var initialize: Bool
    public var remoteLeadId: String? {
        didSet { phoneKey = Self.phoneKey(phone: phone, remoteLeadId: remoteLeadId) }
    }
    public var attemptCount: Int
    /// An earlier attempt's outcome was unknown: a duplicate answer now confirms it.
    public var ambiguous: Bool
    /// The phone's dedupe key (`PhoneNumber.dedupeKey` of its normalized form) when the
    /// lead goes in `leads` mode with a valid phone, else nil. Worked out once: the
    /// pre-check, the batch planner and the answer matcher all need it.
    public private(set) var phoneKey: String?

    public init(
        id: Int64, projectId: String, processId: String? = nil, groupId: String? = nil, phone: String? = nil,
        email: String? = nil, name: String? = nil, firstName: String? = nil, lastName: String? = nil,
        referenceId: String? = nil, metadata: String = "{}", initialize: Bool = true, remoteLeadId: String? = nil,
        attemptCount: Int = 0, ambiguous: Bool = false
    ) {
        self.id = id
        self.projectId = projectId
        self.processId = processId
        self.groupId = groupId
        self.phone = phone
        self.email = email
        self.name = name
        self.firstName = firstName
        self.lastName = lastName
        self.referenceId = referenceId
        self.metadata = metadata
        self.initialize = initialize
        self.remoteLeadId = remoteLeadId
        self.attemptCount = attemptCount
        self.ambiguous = ambiguous
        self.phoneKey = Self.phoneKey(phone: phone, remoteLeadId: remoteLeadId)
    }

    private static func phoneKey(phone: String?, remoteLeadId: String?) -> String? {
        guard remoteLeadId.map({ !$0.isEmpty }) != true, let phone, let normalized = PhoneNumber.normalize(phone) else {
            return nil
        }
        return PhoneNumber.dedupeKey(normalized)
    }

    /// `leadIds` mode for a lead Uservox already has, `leads` mode otherwise.
    public var mode: BatchMode { remoteLeadId.map { !$0.isEmpty } == true ? .leadIds : .leads }

    /// The `referenceId` on the wire: the writer's own, or one LeadSync makes from the row id,
    /// so every answer item can be matched back to its row.
    public var wireReferenceId: String { referenceId.flatMap { $0.isEmpty ? nil : $0 } ?? "ls-\(id)" }
}

/// A request carries either new leads or ids of existing ones, never both (docs/contract.md §4).
public enum BatchMode: String, Sendable, Hashable {
    case leads
    case leadIds
}
