/// Why a lead waits without being sent (docs/contract.md §2). Stored in `leads.held_reason`.
public enum HeldReason: String, Sendable, CaseIterable, Codable {
    case projectPaused = "project_paused"
    case projectInactive = "project_inactive"
    case tokenMissing = "token_missing"
    case tokenMismatch = "token_mismatch"
    case badRequest = "bad_request"
    case retriesExhausted = "retries_exhausted"
}
