/// Why a lead is `invalid` (docs/contract.md §3). Stored in `invalid_leads.reason`.
public enum InvalidReason: String, Sendable, CaseIterable, Codable {
    case apiDuplicateCall = "api_duplicate_call"
    case apiRepeatingDigits = "api_repeating_digits"
    case apiAlreadyExists = "api_already_exists"
    case apiRejected = "api_rejected"
    case apiProcessNotFound = "api_process_not_found"
    case localInvalidPhone = "local_invalid_phone"
    case localRepeatingDigits = "local_repeating_digits"
    case localDuplicate = "local_duplicate"
    case localMetadataTooLarge = "local_metadata_too_large"
    /// The lead alone would exceed its project's `max_request_bytes` (docs/contract.md §3).
    case localLeadTooLarge = "local_lead_too_large"

    /// Where the verdict came from: the API's answer, or LeadSync's own pre-check.
    public var source: InvalidSource { rawValue.hasPrefix("local_") ? .local : .api }
}

/// `invalid_leads.source`.
public enum InvalidSource: String, Sendable, CaseIterable, Codable {
    case api
    case local
}
