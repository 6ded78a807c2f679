/// Where a lead is in its life (docs/contract.md §2). Stored as text behind `leads_status_known`.
/// "In flight" is not stored: it is a pending lead listed in an open attempt's `lead_ids`.
public enum LeadState: String, Sendable, CaseIterable, Codable {
    case pending
    case submitted
    case invalid
    case held
    case cancelled
}
