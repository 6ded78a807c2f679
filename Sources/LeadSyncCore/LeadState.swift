/// Where a lead is in its life (docs/contract.md §2). Stored as text behind `leads_status_known`.
/// "In flight" is not stored: it is a pending lead listed in an open attempt's `lead_ids`.
public enum LeadState: String, Sendable, CaseIterable, Codable {
    case pending
    case submitted
    case invalid
    case held
    case cancelled

    /// Nothing will send it again (docs/contract.md §2.1, "final?"): the states
    /// `leadsync prune --leads` may delete. The same rule as SQL's `leadsync.lead_is_finished`
    /// (migration 0008), which the prune's queries use; a test ties the two.
    public var isFinished: Bool {
        switch self {
        case .submitted, .invalid, .cancelled: true
        case .pending, .held: false
        }
    }

    /// The finished states, in declaration order.
    public static let finished: [LeadState] = allCases.filter(\.isFinished)
}
