/// A lead as the worker reads it from `leadsync.leads` (docs/contract.md §1).
///
/// Its fields live in one shared, immutable box: a lead is copied many times on its way
/// (claim, pre-check, batch, request body, answer matching, write-back), and copying
/// thirteen strings field by field was about 8 % of the worker's CPU per lead
/// (docs/performance.md). A copy is now one reference; a change makes a new box.
public struct Lead: Sendable, Equatable {
    struct Fields: Sendable, Equatable {
        var id: Int64
        var projectId: String
        var processId: String?
        var groupId: String?
        var phone: String?
        var email: String?
        var name: String?
        var firstName: String?
        var lastName: String?
        var referenceId: String?
        var metadata: String
        var initialize: Bool
        var remoteLeadId: String?
        var attemptCount: Int
        var ambiguous: Bool
        var phoneKey: String?
        var wireReferenceId: String
    }

    final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    private mutating func change(_ update: (inout Fields) -> Void) {
        var fields = box.fields
        update(&fields)
        fields.phoneKey = Self.phoneKey(phone: fields.phone, remoteLeadId: fields.remoteLeadId)
        fields.wireReferenceId = Self.wireReferenceId(id: fields.id, referenceId: fields.referenceId)
        box = Box(fields)
    }

    public var id: Int64 {
        get { box.fields.id }
        set { change { $0.id = newValue } }
    }
    public var projectId: String {
        get { box.fields.projectId }
        set { change { $0.projectId = newValue } }
    }
    public var processId: String? {
        get { box.fields.processId }
        set { change { $0.processId = newValue } }
    }
    public var groupId: String? {
        get { box.fields.groupId }
        set { change { $0.groupId = newValue } }
    }
    public var phone: String? {
        get { box.fields.phone }
        set { change { $0.phone = newValue } }
    }
    public var email: String? {
        get { box.fields.email }
        set { change { $0.email = newValue } }
    }
    public var name: String? {
        get { box.fields.name }
        set { change { $0.name = newValue } }
    }
    public var firstName: String? {
        get { box.fields.firstName }
        set { change { $0.firstName = newValue } }
    }
    public var lastName: String? {
        get { box.fields.lastName }
        set { change { $0.lastName = newValue } }
    }
    public var referenceId: String? {
        get { box.fields.referenceId }
        set { change { $0.referenceId = newValue } }
    }
    /// `metadata` as PostgreSQL prints it: already a JSON object, passed through untouched.
    public var metadata: String {
        get { box.fields.metadata }
        set { change { $0.metadata = newValue } }
    }
    /// Sent as `init`.
    public var initialize: Bool {
        get { box.fields.initialize }
        set { change { $0.initialize = newValue } }
    }
    public var remoteLeadId: String? {
        get { box.fields.remoteLeadId }
        set { change { $0.remoteLeadId = newValue } }
    }
    public var attemptCount: Int {
        get { box.fields.attemptCount }
        set { change { $0.attemptCount = newValue } }
    }
    /// An earlier attempt's outcome was unknown: a duplicate answer now confirms it.
    public var ambiguous: Bool {
        get { box.fields.ambiguous }
        set { change { $0.ambiguous = newValue } }
    }
    /// The phone's dedupe key (`PhoneNumber.dedupeKey` of its normalized form) when the
    /// lead goes in `leads` mode with a valid phone, else nil. Worked out once: the
    /// pre-check, the batch planner and the answer matcher all need it.
    public var phoneKey: String? { box.fields.phoneKey }

    public init(
        id: Int64, projectId: String, processId: String? = nil, groupId: String? = nil, phone: String? = nil,
        email: String? = nil, name: String? = nil, firstName: String? = nil, lastName: String? = nil,
        referenceId: String? = nil, metadata: String = "{}", initialize: Bool = true, remoteLeadId: String? = nil,
        attemptCount: Int = 0, ambiguous: Bool = false
    ) {
        box = Box(
            Fields(
                id: id, projectId: projectId, processId: processId, groupId: groupId, phone: phone, email: email,
                name: name, firstName: firstName, lastName: lastName, referenceId: referenceId, metadata: metadata,
                initialize: initialize, remoteLeadId: remoteLeadId, attemptCount: attemptCount, ambiguous: ambiguous,
                phoneKey: Self.phoneKey(phone: phone, remoteLeadId: remoteLeadId),
                wireReferenceId: Self.wireReferenceId(id: id, referenceId: referenceId)))
    }

    public static func == (lhs: Lead, rhs: Lead) -> Bool {
        lhs.box === rhs.box || lhs.box.fields == rhs.box.fields
    }

    private static func phoneKey(phone: String?, remoteLeadId: String?) -> String? {
        guard remoteLeadId.map({ !$0.isEmpty }) != true, let phone else { return nil }
        return PhoneNumber.normalizedKey(phone)
    }

    /// `leadIds` mode for a lead Uservox already has, `leads` mode otherwise.
    public var mode: BatchMode { remoteLeadId.map { !$0.isEmpty } == true ? .leadIds : .leads }

    /// The `referenceId` on the wire: the writer's own, or one LeadSync makes from the row id,
    /// so every answer item can be matched back to its row.
    /// Worked out once, when the lead is made: the batch planner, the request body and the
    /// answer matcher each need it.
    public var wireReferenceId: String { box.fields.wireReferenceId }

    private static func wireReferenceId(id: Int64, referenceId: String?) -> String {
        referenceId.flatMap { $0.isEmpty ? nil : $0 } ?? "ls-\(id)"
    }
}

/// A request carries either new leads or ids of existing ones, never both (docs/contract.md §4).
public enum BatchMode: String, Sendable, Hashable {
    case leads
    case leadIds
}
