/// What an admin command refuses or cannot find, as one line for stderr (exit 1).
public struct AdminError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// No such lead or project.
        case notFound
        /// The command would break a rule (e.g. resubmitting a lead that is still pending).
        case refused
        case failed
    }

    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    static func unknownProject(_ id: String) -> AdminError {
        AdminError(.notFound, "no project '\(id)' (leadsync project list shows them)")
    }
}
