import CoreMetrics
import LeadSyncCore

/// What the worker counts (swift-metrics; exported by `MetricsServer` as Prometheus text).
/// Project labels are bounded by `--metrics-max-projects` (`projectLabels`).
public enum WorkerMetrics {
    public static let defaultMaxProjects = 1000
    public static let projectLabels = SharedProjectLabels(limit: defaultMaxProjects)

    public static func request(project: String, outcome: OutcomePlanner.AttemptOutcome, duration: Duration) {
        let project = projectLabels.label(for: project)
        Counter(label: "leadsync_requests_total", dimensions: [("project", project), ("outcome", outcome.rawValue)])
            .increment()
        Timer(label: "leadsync_request_duration_seconds", dimensions: [("project", project)])
            .recordNanoseconds(duration.nanosecondsValue)
        if outcome == .rateLimited {
            Counter(label: "leadsync_rate_limited_total", dimensions: [("project", project)]).increment()
        }
    }

    public static func leads(project: String, state: LeadState, reason: String?, count: Int) {
        guard count > 0 else { return }
        let project = projectLabels.label(for: project)
        var dimensions = [("project", project), ("state", state.rawValue)]
        if let reason { dimensions.append(("reason", reason)) }
        Counter(label: "leadsync_leads_total", dimensions: dimensions).increment(by: count)
    }

    public static func rateLimitWait(project: String, duration: Duration) {
        let project = projectLabels.label(for: project)
        Counter(label: "leadsync_rate_limit_waits_total", dimensions: [("project", project)]).increment()
        FloatingPointCounter(label: "leadsync_rate_limit_wait_seconds_total", dimensions: [("project", project)])
            .increment(by: duration.secondsValue)
    }

    /// The pending gauges of every project at once: projects folded into `other` add up
    /// their pending leads and report the oldest age among them.
    public static func backlog(_ rows: [(project: String, pending: Int, oldestAge: Double)]) {
        let folded = projectLabels.withLabels { ProjectLabels.foldBacklog(rows, labels: &$0) }
        for row in folded {
            Gauge(label: "leadsync_pending_leads", dimensions: [("project", row.project)]).record(row.pending)
            Gauge(label: "leadsync_oldest_pending_age_seconds", dimensions: [("project", row.project)])
                .record(row.oldestAge)
        }
    }
}
