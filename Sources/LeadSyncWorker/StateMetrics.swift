import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO

/// The gauges `/metrics` computes when it is scraped: what the database holds now (leads by
/// project and state, held by reason, the oldest ready lead's age, paused projects), the
/// worker's health and build, and the process. Counters only describe this process's
/// events since it started; these make alerts work on a quiet system and after a restart.
public struct StateMetrics: Sendable {
    /// The release `leadsync_build_info` names.
    public static let version = "0.16.0"

    let client: PostgresClient
    /// Through a pooler: the settings each transaction sets first (`LeadStore`).
    let pooled: PooledSettings?
    let health: WorkerHealth
    let labels: SharedProjectLabels
    let timeout: Duration
    let logger: Logger

    public init(
        client: PostgresClient, pooled: PooledSettings? = nil, health: WorkerHealth,
        labels: SharedProjectLabels = WorkerMetrics.projectLabels, timeout: Duration = .seconds(6), logger: Logger
    ) {
        self.client = client
        self.pooled = pooled
        self.health = health
        self.labels = labels
        self.timeout = timeout
        self.logger = logger
    }

    /// The text appended to the registry's: never fails; a database that does not answer
    /// within `timeout` leaves the database gauges out and says so in
    /// `leadsync_state_scrape_success`.
    public func render() async -> String {
        var text = PrometheusText()
        text.family("leadsync_build_info", "gauge", help: "Always 1; the labels name the build.")
        text.sample("leadsync_build_info", [("version", Self.version)], 1)
        text.family("leadsync_healthy", "gauge", help: "1 while /healthz answers 200, else 0.")
        text.sample("leadsync_healthy", [], health.isHealthy ? 1 : 0)
        let client = self.client
        let pooled = self.pooled
        let logger = self.logger
        let snapshot = try? await withTimeout(timeout, "the metrics scrape") {
            try await StateSnapshot.load(from: client, pooled: pooled, logger: logger)
        }
        text.family(
            "leadsync_state_scrape_success", "gauge",
            help: "1 when this scrape read the database's state, 0 when it failed or timed out.")
        text.sample("leadsync_state_scrape_success", [], snapshot == nil ? 0 : 1)
        if let snapshot { Self.render(snapshot, labels: labels, into: &text) }
        ProcessMetrics.render(into: &text)
        return text.text
    }

    /// Projects past `--metrics-max-projects` share the label `other` (`ProjectLabels`):
    /// their counts add up, and the oldest age among them is reported. Labels are given
    /// in project id order, so which projects keep their own is stable between scrapes.
    static func render(_ snapshot: StateSnapshot, labels: SharedProjectLabels, into text: inout PrometheusText) {
        var label: [String: String] = [:]
        for project in snapshot.projects { label[project.id] = labels.label(for: project.id) }
        func labelOf(_ project: String) -> String {
            if let known = label[project] { return known }
            let named = labels.label(for: project)
            label[project] = named
            return named
        }

        var counts = Folded()
        for row in snapshot.leadCounts { counts.add([labelOf(row.project), row.state], Double(row.count)) }
        text.family(
            "leadsync_project_leads", "gauge", help: "Leads per project and state now (in flight ones are pending).")
        for (key, value) in counts.rows {
            text.sample("leadsync_project_leads", [("project", key[0]), ("state", key[1])], value)
        }

        var held = Folded()
        for row in snapshot.held { held.add([labelOf(row.project), row.reason], Double(row.count)) }
        text.family("leadsync_held_leads", "gauge", help: "Held leads per project and reason now.")
        for (key, value) in held.rows {
            text.sample("leadsync_held_leads", [("project", key[0]), ("reason", key[1])], value)
        }

        var age = Folded()
        var lag = Folded()
        var paused = Folded()
        for project in snapshot.projects {
            let name = labelOf(project.id)
            age.max([name], project.oldestReadyAge)
            lag.max([name], project.lag)
            if project.paused { paused.add([name, pauseReason(project.pauseReason)], 1) }
        }
        text.family(
            "leadsync_oldest_ready_lead_age_seconds", "gauge",
            help: "Per project, seconds since its oldest ready lead was inserted; 0 when none is ready.")
        for (key, value) in age.rows {
            text.sample("leadsync_oldest_ready_lead_age_seconds", [("project", key[0])], value)
        }
        text.family(
            "leadsync_lag_seconds", "gauge",
            help: "Per project, seconds since its oldest pending lead (ready or waiting for a retry) was inserted.")
        for (key, value) in lag.rows { text.sample("leadsync_lag_seconds", [("project", key[0])], value) }
        text.family(
            "leadsync_project_paused", "gauge",
            help: "Paused projects (the count under 'other'); reason is the held reason of an API pause, or operator.")
        for (key, value) in paused.rows {
            text.sample("leadsync_project_paused", [("project", key[0]), ("reason", key[1])], value)
        }
    }

    /// A bounded label for a free-text pause reason: the worker writes "<held reason>: <message>"
    /// on a 401/403 (`LeadStore`), anything else is an operator's `project pause`.
    static func pauseReason(_ reason: String?) -> String {
        guard let reason, let colon = reason.firstIndex(of: ":"),
            let held = HeldReason(rawValue: String(reason[..<colon]))
        else { return "operator" }
        return held.rawValue
    }
}

/// Values keyed by label values, in first-seen order, summed or maxed.
private struct Folded {
    private var order: [[String]] = []
    private var values: [[String]: Double] = [:]

    mutating func add(_ key: [String], _ value: Double) { combine(key, value, +) }
    mutating func max(_ key: [String], _ value: Double) { combine(key, value, Swift.max) }

    private mutating func combine(_ key: [String], _ value: Double, _ with: (Double, Double) -> Double) {
        if let old = values[key] {
            values[key] = with(old, value)
        } else {
            order.append(key)
            values[key] = value
        }
    }

    var rows: [([String], Double)] { order.map { ($0, values[$0]!) } }
}
