/// Prometheus text exposition (format 0.0.4) for the gauges `StateMetrics` computes at
/// scrape time: written here rather than through swift-metrics, whose gauges keep their
/// last value forever, so a series that no longer holds (a project resumed, a reason
/// gone) disappears from the next scrape.
struct PrometheusText {
    private(set) var text = ""

    /// Starts a family: its HELP and TYPE lines.
    mutating func family(_ name: String, _ type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(Self.format(value))\n"
    }

    /// Label values are any text a project id may hold: backslash, quote and newline escaped.
    static func escape(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
