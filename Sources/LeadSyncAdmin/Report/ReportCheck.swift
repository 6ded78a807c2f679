import Foundation

/// `report --check`: thresholds for cron and alerting. Each is judged per project, and a
/// breach names the threshold, the project and the value (exit 3).
public struct ReportThresholds: Sendable, Equatable {
    /// Largest share of leads decided in the window that may be invalid (0…1).
    public var maxInvalidRate: Double?
    /// Longest the oldest waiting lead may wait.
    public var maxLag: Duration?
    /// Most leads a project may have held.
    public var maxHeld: Int?

    public init(maxInvalidRate: Double? = nil, maxLag: Duration? = nil, maxHeld: Int? = nil) {
        self.maxInvalidRate = maxInvalidRate
        self.maxLag = maxLag
        self.maxHeld = maxHeld
    }

    public var isEmpty: Bool { maxInvalidRate == nil && maxLag == nil && maxHeld == nil }

    public struct Breach: Sendable, Equatable, CustomStringConvertible {
        /// The option's name without dashes: `max-invalid-rate`, `max-lag`, `max-held`.
        public var threshold: String
        public var project: String
        public var limit: String
        public var value: String

        public init(threshold: String, project: String, limit: String, value: String) {
            self.threshold = threshold
            self.project = project
            self.limit = limit
            self.value = value
        }

        public var description: String { "--\(threshold) \(limit) breached by \(project) (\(value))" }
    }

    /// Breaches in project order, thresholds in option order within a project.
    public func breaches(in report: Report) -> [Breach] {
        var result: [Breach] = []
        for project in report.projects {
            if let maxInvalidRate, let rate = project.invalidRate, rate > maxInvalidRate {
                result.append(
                    Breach(
                        threshold: "max-invalid-rate", project: project.projectId,
                        limit: RateText.format(maxInvalidRate),
                        value: "\(RateText.format(rate)) invalid in \(report.sinceText)"))
            }
            if let maxLag, let lag = project.lag(at: report.generatedAt), lag > maxLag {
                result.append(
                    Breach(
                        threshold: "max-lag", project: project.projectId, limit: DurationText.format(maxLag),
                        value: "oldest pending lead waits \(DurationText.format(lag))"))
            }
            if let maxHeld, project.leads.held > maxHeld {
                result.append(
                    Breach(
                        threshold: "max-held", project: project.projectId, limit: "\(maxHeld)",
                        value: "\(project.leads.held) held"))
            }
        }
        return result
    }

    /// The one stderr line for a failed check.
    public static func summary(_ breaches: [Breach]) -> String {
        "check failed: " + breaches.map(\.description).joined(separator: "; ")
    }
}
