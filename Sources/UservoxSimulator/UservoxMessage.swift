/// The API's messages, verbatim from its reference: clients match on them.
public enum UservoxMessage {
    public static let unauthorized = "Unauthorized"
    public static let projectInactive = "Project is inactive"
    public static let projectNotFound = "Project not found"
    public static let tooManyRequests = "Too many requests"
    public static let leadsRequired = "Either leadIds or leads array is required"
    public static let notAnArray = "Input must be an array"
    public static let initNotBoolean = "init must be a boolean"
    public static let invalidProjectIds = "Some leads have missing or invalid projectId"
    public static let missingProjectId = "missing projectId"
    public static let projectIdMismatch = "projectId does not match authenticated project"
    public static let internalError = "Internal server error"
    public static let payloadTooLarge = "Payload too large"

    public static let invalidPhone = "Invalid phone number format"
    public static let repeatingDigits = "Phone number contains repeating digits pattern"
    public static let alreadyExists = "Lead already exists for this project and process"
    public static let duplicateCall = "A call attempt has already been made to this phone number for this project"
    public static let leadNotFound = "Lead not found"

    public static func tooManyLeads(_ max: Int) -> String { "Maximum of \(max) leads allowed per request" }
    public static func processNotFound(_ processId: String) -> String {
        "Process not found for lead with processId: \(processId)"
    }
}
