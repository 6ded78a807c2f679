import Foundation
import LeadSyncAdmin
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO

/// One project: its leads by state, its rates and answers over the last hour and day (from
/// `submission_attempts`, one index range each), invalid and held by reason, its rate limit
/// and how close it runs to it, its last 50 requests.
struct ProjectPage: Sendable {
    struct Figure: Sendable {
        var label: String
        var value: String
        var note: String
        var tone: String
        var key: String
    }

    struct Attempt: Sendable {
        var id: String
        var started: String
        var duration: String
        var outcome: String
        var outcomeClass: String
        var http: String
        var leads: String
        var accepted: String
        var rejected: String
        var error: String
    }

    struct Setting: Sendable {
        var name: String
        var value: String
    }

    var id: String
    var generatedAt: String
    var paused: Bool
    var pauseReason: String
    var pausedUntil: String
    var figures: [Figure]
    var rateLimitText: String
    var rateGauge: String
    var rateNotes: [String]
    var settings: [Setting]
    var hourRequests: String
    var hourLeads: String
    var dayRequests: String
    var dayLeads: String
    var invalidBars: String
    var heldBars: String
    var invalidLink: String
    var heldLink: String
    var attempts: [Attempt]
    var heldReasons: [String]
    var hasHeld: Bool

    /// Outcome groups of the stacked chart, in stacking order (docs/contract.md §1.4 outcomes).
    static let outcomeGroups: [(name: String, cssClass: String, outcomes: Set<String>)] = [
        ("200 answered", "c-ok", ["ok", "partial", "rejected"]),
        ("400", "c-400", ["bad_request", "batch_too_large"]),
        ("403", "c-403", ["forbidden"]),
        ("404", "c-404", ["process_not_found"]),
        ("429", "c-429", ["rate_limited"]),
        ("5xx", "c-5xx", ["server_error"]),
        ("timeout", "c-timeout", ["timeout"]),
        ("network, unreadable, abandoned", "c-other", ["network_error", "bad_response", "abandoned"]),
        ("open", "c-open", ["open"]),
    ]

    static func outcomeClass(_ outcome: String?) -> String {
        guard let outcome else { return "c-open" }
        return outcomeGroups.first { $0.outcomes.contains(outcome) }?.cssClass ?? "c-other"
    }

    static func load(
        _ project: String, on connection: PostgresConnection, configuration: ConsoleConfiguration, logger: Logger
    ) async throws -> ProjectPage {
        let report = try await ReportLoader(logger: logger).load(
            on: connection, project: project, since: configuration.since, sinceText: configuration.sinceText,
            now: configuration.now)
        guard let p = report.projects.first else { throw AdminError(.notFound, "no project '\(project)'") }
        let now = report.generatedAt
        guard let settings = try await ProjectAdmin(logger: logger).list(on: connection, only: project, now: now).first
        else { throw AdminError(.notFound, "no project '\(project)'") }
        let hour = try await connection.rows(
            ConsoleQueries.buckets(project: project, since: now.addingTimeInterval(-3600), bucketSeconds: 60),
            logger: logger)
        let day = try await connection.rows(
            ConsoleQueries.buckets(project: project, since: now.addingTimeInterval(-86_400), bucketSeconds: 900),
            logger: logger)
        let attempts = try await connection.rows(ReportQueries.attempts(only: project, limit: 50), logger: logger)
        return build(
            report: report, project: p, settings: settings, hour: hour, day: day, attempts: attempts)
    }

    static func build(
        report: Report, project p: ProjectReport, settings: ProjectRow, hour: [ConsoleQueries.BucketRow],
        day: [ConsoleQueries.BucketRow], attempts: [ReportQueries.AttemptRow]
    ) -> ProjectPage {
        let now = report.generatedAt
        let lag = p.lag(at: now)
        let figures: [Figure] = [
            Figure(
                label: "Pending", value: Figures.count(p.leads.pending), note: "ready to send", tone: "", key: "pending"
            ),
            Figure(
                label: "Retrying", value: Figures.count(p.leads.retrying), note: "waiting out a back-off", tone: "",
                key: "retrying"),
            Figure(
                label: "In flight", value: Figures.count(p.leads.inFlight), note: "in an open request", tone: "",
                key: "in_flight"),
            Figure(
                label: "Submitted", value: Figures.count(p.leads.submitted), note: "accepted by Uservox",
                tone: "good", key: "submitted"),
            Figure(
                label: "Invalid", value: Figures.count(p.leads.invalid), note: "never sent again",
                tone: p.leads.invalid > 0 ? "warn" : "", key: "invalid"),
            Figure(
                label: "Held", value: Figures.count(p.leads.held), note: "waiting for an operator",
                tone: p.leads.held > 0 ? "bad" : "", key: "held"),
            Figure(
                label: "Cancelled", value: Figures.count(p.leads.cancelled), note: "withdrawn", tone: "",
                key: "cancelled"),
            Figure(
                label: "Lag", value: lag.map(DurationText.format) ?? "–", note: "oldest waiting lead", tone: "",
                key: "lag"),
            Figure(
                label: "Last success",
                value: p.lastSuccessAt.map { Ago.text(from: $0, to: now) } ?? "never",
                note: p.lastSuccessAt.map(Timestamp.format) ?? "no lead accepted yet", tone: "", key: "last_success"),
        ]

        // The rate limit, and how much of it the project used.
        let windowSeconds = Double(settings.rateLimitWindowMs) / 1000
        let limitPerSecond = windowSeconds > 0 ? Double(settings.rateLimitRequests) / windowSeconds : 0
        let hourSeries = series(hour, buckets: 60, seconds: 60)
        let lastMinute = hour.filter { $0.bucket == 59 }.reduce(0) { $0 + $1.requests }
        let lastMinuteRate = Double(lastMinute) / 60
        let busiest = hourSeries.requestsTotal.max() ?? 0
        var notes = [
            "Last minute: \(Figures.rate(lastMinuteRate)) requests/s, \(Figures.percent(limitPerSecond > 0 ? lastMinuteRate / limitPerSecond : 0)) of the limit."
        ]
        notes.append(
            "Busiest minute of the last hour: \(Figures.rate(busiest)) requests/s, \(Figures.percent(limitPerSecond > 0 ? busiest / limitPerSecond : 0)) of the limit."
        )
        if p.requests.rateLimited > 0 {
            notes.append("\(Figures.count(p.requests.rateLimited)) answered 429 in the last \(report.sinceText).")
        }
        let gauge = SVGChart.gauge(
            id: "rate-gauge", title: "Requests per second against the rate limit", value: busiest,
            limit: limitPerSecond,
            caption:
                "Busiest minute \(Figures.rate(busiest))/s of \(Figures.rate(limitPerSecond))/s allowed")

        let daySeries = series(day, buckets: 96, seconds: 900)
        let hourLabels = (0..<60).map { clock(now.addingTimeInterval(Double($0 - 60) * 60)) }
        let dayLabels = (0..<96).map { clock(now.addingTimeInterval(Double($0 - 96) * 900)) }
        let hourAxis = stride(from: 0, to: 60, by: 15).map { ($0, hourLabels[$0]) } + [(59, "now")]
        let dayAxis = stride(from: 0, to: 96, by: 16).map { ($0, dayLabels[$0]) } + [(95, "now")]
        func total(_ values: [Double], seconds: Double) -> Int { Int((values.reduce(0, +) * seconds).rounded()) }

        let invalidItems = p.invalidByReason.nonZero.map { (label: $0.0, value: $0.1, cssClass: "c-invalid") }
        let heldItems = p.heldByReason.nonZero.map { (label: $0.0, value: $0.1, cssClass: "c-held") }
        return ProjectPage(
            id: p.projectId, generatedAt: Timestamp.format(now), paused: p.paused,
            pauseReason: p.pauseReason ?? "", pausedUntil: p.pausedUntil.map(Timestamp.format) ?? "",
            figures: figures,
            rateLimitText:
                "\(Figures.count(settings.rateLimitRequests)) requests per \(DurationText.format(.milliseconds(settings.rateLimitWindowMs))) (\(Figures.rate(limitPerSecond))/s)",
            rateGauge: gauge, rateNotes: notes,
            settings: [
                Setting(name: "Max batch", value: "\(Figures.count(settings.maxBatchSize)) leads"),
                Setting(name: "Max in flight", value: "\(settings.maxInFlight) requests"),
                Setting(name: "Max request bytes", value: Figures.count(settings.maxRequestBytes)),
                Setting(name: "Max attempts", value: "\(settings.maxAttempts)"),
            ],
            hourRequests: SVGChart.timeSeries(
                id: "hour-requests", title: "Requests per second by answer, last hour (UTC)", unit: "req/s",
                series: hourSeries.byOutcome, bucketLabels: hourLabels, axisLabels: hourAxis,
                summary: "\(Figures.count(total(hourSeries.requestsTotal, seconds: 60))) requests in the last hour",
                style: .stackedBars),
            hourLeads: SVGChart.timeSeries(
                id: "hour-leads", title: "Leads per second, last hour (UTC)", unit: "leads/s",
                series: [
                    .init(name: "leads sent", cssClass: "c-leads", values: hourSeries.leads),
                    .init(name: "leads accepted", cssClass: "c-ok", values: hourSeries.accepted),
                ], bucketLabels: hourLabels, axisLabels: hourAxis,
                summary: "\(Figures.count(total(hourSeries.leads, seconds: 60))) leads sent in the last hour",
                style: .lines),
            dayRequests: SVGChart.timeSeries(
                id: "day-requests", title: "Requests per second by answer, last 24 hours (UTC, 15-minute bars)",
                unit: "req/s", series: daySeries.byOutcome, bucketLabels: dayLabels, axisLabels: dayAxis,
                summary: "\(Figures.count(total(daySeries.requestsTotal, seconds: 900))) requests in the last 24 hours",
                style: .stackedBars),
            dayLeads: SVGChart.timeSeries(
                id: "day-leads", title: "Leads per second, last 24 hours (UTC)", unit: "leads/s",
                series: [
                    .init(name: "leads sent", cssClass: "c-leads", values: daySeries.leads),
                    .init(name: "leads accepted", cssClass: "c-ok", values: daySeries.accepted),
                ], bucketLabels: dayLabels, axisLabels: dayAxis,
                summary: "\(Figures.count(total(daySeries.leads, seconds: 900))) leads sent in the last 24 hours",
                style: .lines),
            invalidBars: SVGChart.bars(id: "invalid-bars", title: "Invalid leads by reason", items: invalidItems),
            heldBars: SVGChart.bars(id: "held-bars", title: "Held leads by reason", items: heldItems),
            invalidLink: HTMLText.link("/invalid", [("project", p.projectId)]),
            heldLink: HTMLText.link("/held", [("project", p.projectId)]),
            attempts: attempts.map { a in
                Attempt(
                    id: "\(a.id)", started: Timestamp.format(a.startedAt),
                    duration: a.durationMs.map(DurationText.formatElapsed(milliseconds:)) ?? "open",
                    outcome: a.outcome ?? "open", outcomeClass: outcomeClass(a.outcome),
                    http: a.httpStatus.map { "\($0)" } ?? "–", leads: Figures.count(a.leadCount),
                    accepted: Figures.count(a.successCount), rejected: Figures.count(a.errorCount),
                    error: a.error ?? "")
            },
            heldReasons: p.heldByReason.nonZero.map(\.0), hasHeld: p.leads.held > 0)
    }

    /// Per-second rates per bucket: requests by outcome group, all requests, leads sent and accepted.
    static func series(_ rows: [ConsoleQueries.BucketRow], buckets: Int, seconds: Double) -> (
        byOutcome: [SVGChart.Series], requestsTotal: [Double], leads: [Double], accepted: [Double]
    ) {
        var groups = outcomeGroups.map {
            SVGChart.Series(name: $0.name, cssClass: $0.cssClass, values: Array(repeating: 0, count: buckets))
        }
        var total = Array(repeating: 0.0, count: buckets)
        var leads = Array(repeating: 0.0, count: buckets)
        var accepted = Array(repeating: 0.0, count: buckets)
        for row in rows where (0..<buckets).contains(row.bucket) {
            let group = outcomeGroups.firstIndex { $0.outcomes.contains(row.outcome) } ?? 7
            groups[group].values[row.bucket] += Double(row.requests) / seconds
            total[row.bucket] += Double(row.requests) / seconds
            leads[row.bucket] += Double(row.leads) / seconds
            accepted[row.bucket] += Double(row.accepted) / seconds
        }
        // Only the groups that occurred, so the legend names what the chart shows.
        let shown = groups.filter { $0.values.contains { $0 > 0 } }
        return (shown.isEmpty ? [groups[0]] : shown, total, leads, accepted)
    }

    /// `14:05` (UTC).
    static func clock(_ date: Date) -> String {
        let stamp = Timestamp.format(date)
        let time = stamp.split(separator: "T").last ?? ""
        return String(time.prefix(5))
    }
}
