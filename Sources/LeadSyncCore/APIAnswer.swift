/// Every answer the Bulk Initiate API can give, as the worker needs it: no HTTP in sight.
/// The client classifies (status, headers, body) into this; `OutcomePlanner` decides.
public enum APIAnswer: Sendable, Equatable {
    /// 200: each lead of the request, matched back to its row by id.
    case processed([Int64: LeadAnswer])
    /// 400 "Maximum of N leads allowed per request".
    case batchTooLarge(maximum: Int?, message: String)
    /// 413: the body was more than the server (or a proxy before it) takes.
    case payloadTooLarge(message: String)
    /// Any other 400; `body` is kept on the attempt.
    case badRequest(message: String, body: String)
    /// 401/403: the project cannot be served until an operator acts.
    case forbidden(ForbiddenReason, message: String)
    /// 404 "Process not found for lead with processId: X".
    case processNotFound(processId: String?, message: String)
    /// 429.
    case rateLimited(retryAfter: Duration?, message: String)
    /// 5xx: the server may have processed the request.
    case serverError(status: Int, message: String)
    /// No answer in time: the server may have processed the request.
    case timeout(message: String)
    /// The connection failed before the request was sent: certainly not processed.
    case notSent(message: String)
    /// The connection was lost after the request was sent: maybe processed.
    case connectionLost(message: String)
    /// An answer that is not JSON or not the documented shape.
    case badResponse(status: Int, message: String)

    /// Whether the server may have acted on the request without our knowing the result.
    public var isAmbiguous: Bool {
        switch self {
        case .serverError, .timeout, .connectionLost: return true
        case .badResponse(let status, _): return (200..<300).contains(status) || status >= 500
        default: return false
        }
    }
}

public enum LeadAnswer: Sendable, Equatable {
    case accepted(remoteId: String?)
    case rejected(message: String)
    /// A 200 that mentions the lead in neither `success` nor `errors`.
    case unconfirmed
}

public enum ForbiddenReason: String, Sendable, Equatable {
    /// 403 "Some leads have missing or invalid projectId": the token belongs to another project.
    case projectMismatch
    case projectInactive
    case projectNotFound
    /// 401: the token is not accepted at all.
    case unauthorized

    public var heldReason: HeldReason {
        switch self {
        case .projectMismatch, .unauthorized: return .tokenMismatch
        case .projectInactive, .projectNotFound: return .projectInactive
        }
    }
}

extension InvalidReason {
    /// docs/contract.md §3: the API's per-lead message, mapped to a reason code.
    public static func fromAPIMessage(_ message: String) -> InvalidReason {
        let lower = message.lowercased()
        if lower.contains("a call attempt has already been made") { return .apiDuplicateCall }
        if lower.contains("repeating digits") { return .apiRepeatingDigits }
        if lower.contains("already exists for this project and process") { return .apiAlreadyExists }
        return .apiRejected
    }

    /// The two answers that mean "Uservox already has this lead".
    public var isDuplicate: Bool { self == .apiDuplicateCall || self == .apiAlreadyExists }
}
