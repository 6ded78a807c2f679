import Foundation
import LeadSyncAdmin
import LeadSyncStore
import Logging
import PostgresNIO

/// The overview: every project in one table, worst first, a banner for `report --check`'s
/// breaches, totals. Built from `ReportLoader` (lead_counts and per-project index reads) and
/// one index range per project for the last minute's rates.
struct OverviewPage: Sendable {
    struct Line: Sendable {
        var id: String
        var link: String
        var pending: String
        var retrying: String
        var inFlight: String
        var submitted: String
        var invalid: String
        var held: String
        var lag: String
        var requestsPerSecond: String
        var leadsPerSecond: String
        var lastSuccess: String
        var paused: Bool
        var pauseReason: String
        /// `bad` (a breach), `warn` (paused, held or failing), `ok`.
        var health: String
        var healthText: String
        var heldBreached: Bool
        var lagBreached: Bool
        var invalidBreached: Bool
        var invalidRate: String
        var invalidCount: Int
        var heldCount: Int
        var sinceText: String
    }

    var generatedAt: String
    var sinceText: String
    var lines: [Line]
    var totals: Line
    var breaches: [String]
    var projectCount: String
    var pausedCount: Int
    var thresholdsText: String

    static func load(
        on connection: PostgresConnection, configuration: ConsoleConfiguration, logger: Logger
    ) async throws -> OverviewPage {
        let report = try await ReportLoader(logger: logger).load(
            on: connection, project: nil, since: configuration.since, sinceText: configuration.sinceText,
            now: configuration.now)
        let minuteAgo = report.generatedAt.addingTimeInterval(-60)
        var recent: [String: (requests: Int, leads: Int)] = [:]
        for row in try await connection.rows(ConsoleQueries.recent(since: minuteAgo), logger: logger) {
            recent[row.projectId] = (row.requests, row.leads)
        }
        let breaches = configuration.thresholds.breaches(in: report)
        return build(report: report, recent: recent, breaches: breaches, thresholds: configuration.thresholds)
    }

    static func build(
        report: Report, recent: [String: (requests: Int, leads: Int)], breaches: [ReportThresholds.Breach],
        thresholds: ReportThresholds
    ) -> OverviewPage {
        let ordered = OverviewOrder.worstFirst(report.projects, breaches: breaches, at: report.generatedAt)
        let byProject = Dictionary(grouping: breaches, by: \.project)
        func line(_ p: ProjectReport, recent: (requests: Int, leads: Int), isTotal: Bool) -> Line {
            let own = Set((byProject[p.projectId] ?? []).map(\.threshold))
            let health = OverviewOrder.health(p, breached: !own.isEmpty)
            return Line(
                id: p.projectId,
                link: isTotal ? "" : HTMLText.link("/project", [("id", p.projectId)]),
                pending: Figures.count(p.leads.pending), retrying: Figures.count(p.leads.retrying),
                inFlight: Figures.count(p.leads.inFlight), submitted: Figures.count(p.leads.submitted),
                invalid: Figures.count(p.leads.invalid), held: Figures.count(p.leads.held),
                lag: p.lag(at: report.generatedAt).map(DurationText.format) ?? "–",
                requestsPerSecond: Figures.rate(Double(recent.requests) / 60),
                leadsPerSecond: Figures.rate(Double(recent.leads) / 60),
                lastSuccess: p.lastSuccessAt.map { Ago.text(from: $0, to: report.generatedAt) } ?? "never",
                paused: p.paused, pauseReason: p.pauseReason ?? (p.paused ? "paused" : ""),
                health: health.cssClass, healthText: health.text,
                heldBreached: own.contains("max-held"), lagBreached: own.contains("max-lag"),
                invalidBreached: own.contains("max-invalid-rate"),
                invalidRate: p.invalidRate.map(Figures.percent) ?? "–", invalidCount: p.leads.invalid,
                heldCount: p.leads.held, sinceText: report.sinceText)
        }
        let lines = ordered.map { line($0, recent: recent[$0.projectId] ?? (0, 0), isTotal: false) }
        let total = recent.values.reduce((requests: 0, leads: 0)) { ($0.requests + $1.requests, $0.leads + $1.leads) }
        var totals = line(report.totals, recent: total, isTotal: true)
        totals.id = "Total"
        totals.health = ""
        totals.healthText = report.pausedCount > 0 ? "\(report.pausedCount) paused" : ""
        var limits: [String] = []
        if let rate = thresholds.maxInvalidRate { limits.append("invalid over \(Figures.percent(rate))") }
        if let lag = thresholds.maxLag { limits.append("lag over \(DurationText.format(lag))") }
        if let held = thresholds.maxHeld { limits.append("more than \(held) held") }
        return OverviewPage(
            generatedAt: Timestamp.format(report.generatedAt), sinceText: report.sinceText, lines: lines,
            totals: totals, breaches: breaches.map(\.description),
            projectCount: Figures.count(report.projects.count), pausedCount: report.pausedCount,
            thresholdsText: limits.joined(separator: ", "))
    }
}

/// "Worst first": what needs an operator sorts to the top (docs/operating.md §19).
enum OverviewOrder {
    enum Health: Int, Comparable {
        case ok = 0, warn, bad

        static func < (a: Health, b: Health) -> Bool { a.rawValue < b.rawValue }

        var cssClass: String {
            switch self {
            case .ok: "ok"
            case .warn: "warn"
            case .bad: "bad"
            }
        }

        var text: String {
            switch self {
            case .ok: "ok"
            case .warn: "attention"
            case .bad: "breached"
            }
        }
    }

    /// `bad` when a threshold is breached; `warn` when paused, holding leads or with failed requests.
    static func health(_ p: ProjectReport, breached: Bool) -> Health {
        if breached { return .bad }
        if p.paused || p.leads.held > 0 || p.requests.failed > 0 { return .warn }
        return .ok
    }

    /// Breaches first (most first), then paused, then by held leads, lag and backlog, then by id.
    static func worstFirst(_ projects: [ProjectReport], breaches: [ReportThresholds.Breach], at now: Date)
        -> [ProjectReport]
    {
        let counts = Dictionary(grouping: breaches, by: \.project).mapValues(\.count)
        func key(_ p: ProjectReport) -> (Int, Int, Int, Int, Int64, Int) {
            let lag = p.lag(at: now).map { $0.components.seconds } ?? -1
            let health = health(p, breached: (counts[p.projectId] ?? 0) > 0)
            return (
                health.rawValue, counts[p.projectId] ?? 0, p.paused ? 1 : 0, p.leads.held, lag,
                p.leads.pending + p.leads.retrying
            )
        }
        return projects.sorted { a, b in
            let (x, y) = (key(a), key(b))
            if x != y { return x > y }
            return a.projectId < b.projectId
        }
    }
}

/// "3m ago", "2h ago", "5d ago".
enum Ago {
    static func text(from date: Date, to now: Date) -> String {
        let seconds = Int64(max(0, now.timeIntervalSince(date)))
        if seconds < 5 { return "just now" }
        return DurationText.format(.seconds(seconds)) + " ago"
    }
}
