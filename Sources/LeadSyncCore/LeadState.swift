/// Where a lead is in its life (SPEC §2). Stored as text behind `leads_status_known`.
public enum LeadState: String, Sendable, CaseIterable, Codable {
    case pending
    case inFlight = "in_flight"
    case submitted
    case invalid
    case held
    case cancelled
}
