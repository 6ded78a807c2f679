/// Colour for human tables: only on a terminal, never when `NO_COLOR` is set (no-color.org)
/// or `TERM=dumb`. JSON and CSV never carry colour.
public struct TerminalStyle: Sendable, Equatable {
    public enum Color: Sendable, Equatable {
        case bold, dim, red, green, yellow

        var code: String {
            switch self {
            case .bold: "1"
            case .dim: "2"
            case .red: "31"
            case .green: "32"
            case .yellow: "33"
            }
        }
    }

    public let enabled: Bool

    public init(enabled: Bool) { self.enabled = enabled }

    public static let plain = TerminalStyle(enabled: false)

    public static func detect(isTerminal: Bool, environment: [String: String]) -> TerminalStyle {
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        return TerminalStyle(enabled: isTerminal && !noColor && environment["TERM"] != "dumb")
    }

    public func apply(_ color: Color?, _ text: String) -> String {
        guard enabled, let color, !text.isEmpty else { return text }
        return "\u{1B}[\(color.code)m\(text)\u{1B}[0m"
    }
}
