import CoreMetrics
import LeadSyncCore

/// What the worker counts (swift-metrics; exported by `MetricsServer` as Prometheus text).
public enum WorkerMetrics {
    public static func request(project: String, outcome: OutcomePlanner.AttemptOutcome, duration: Duration) {
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
        var dimensions = [("project", project), ("state", state.rawValue)]
        if let reason { dimensions.append(("reason", reason)) }
        Counter(label: "leadsync_leads_total", dimensions: dimensions).increment(by: count)
    }

    public static func rateLimitWait(project: String, duration: Duration) {
        Counter(label: "leadsync_rate_limit_waits_total", dimensions: [("project", project)]).increment()
        FloatingPointCounter(label: "leadsync_rate_limit_wait_seconds_total", dimensions: [("project", project)])
            .increment(by: duration.secondsValue)
    }

    public static func backlog(project: String, pending: Int, oldestAge: Double) {
        Gauge(label: "leadsync_pending_leads", dimensions: [("project", project)]).record(pending)
        Gauge(label: "leadsync_oldest_pending_age_seconds", dimensions: [("project", project)]).record(oldestAge)
    }
}
