/// The simulator's one error type: a code to match on and a one-line message.
public struct SimulatorError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// A configuration file, flag or `/_sim/config` body that cannot be used.
        case invalidConfiguration
        /// The server stopped before it was listening.
        case notListening
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
