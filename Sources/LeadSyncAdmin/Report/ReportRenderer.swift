import Foundation
import LeadSyncCore
import WireJSON

/// A `Report` as a human table, one JSON object, or CSV with one fixed-column row per project.
public struct ReportRenderer: Sendable {
    public let report: Report
    /// Breaches of `--check`, shown in JSON (`check`) and marked in the table; nil without `--check`.
    public let breaches: [ReportThresholds.Breach]?

    public init(report: Report, breaches: [ReportThresholds.Breach]? = nil) {
        self.report = report
        self.breaches = breaches
    }

    public func render(_ format: OutputFormat, style: TerminalStyle = .plain) -> String {
        switch format {
        case .table: table(style: style)
        case .json: json()
        case .csv: csv()
        }
    }

    func lagText(_ project: ProjectReport) -> String {
        project.lag(at: report.generatedAt).map(DurationText.format) ?? "-"
    }

    // MARK: table

    public func table(style: TerminalStyle = .plain) -> String {
        let totals = report.totals
        var out = style.apply(.bold, "Leads by state") + "\n"
        var states = TextTable([
            .init("PROJECT"), .init("STATE"), .init("PENDING", .right), .init("RETRYING", .right),
            .init("IN FLIGHT", .right), .init("SUBMITTED", .right), .init("INVALID", .right), .init("HELD", .right),
            .init("CANCELLED", .right), .init("LAG", .right),
        ])
        let breached = Set((breaches ?? []).map { "\($0.project)/\($0.threshold)" })
        func flag(_ project: String, _ threshold: String, _ otherwise: TerminalStyle.Color? = nil) -> TerminalStyle
            .Color?
        {
            breached.contains("\(project)/\(threshold)") ? .red : otherwise
        }
        for p in report.projects {
            states.append([
                .init(p.projectId), p.paused ? .init("paused", .yellow) : .init("active", .green),
                .init("\(p.leads.pending)"), .init("\(p.leads.retrying)"), .init("\(p.leads.inFlight)"),
                .init("\(p.leads.submitted)"), .init("\(p.leads.invalid)", p.leads.invalid > 0 ? .yellow : nil),
                .init("\(p.leads.held)", flag(p.projectId, "max-held", p.leads.held > 0 ? .yellow : nil)),
                .init("\(p.leads.cancelled)"), .init(lagText(p), flag(p.projectId, "max-lag")),
            ])
        }
        let pausedNote = report.pausedCount > 0 ? "\(report.pausedCount) paused" : ""
        states.append([
            .init(totals.projectId, .bold), .init(pausedNote), .init("\(totals.leads.pending)"),
            .init("\(totals.leads.retrying)"), .init("\(totals.leads.inFlight)"), .init("\(totals.leads.submitted)"),
            .init("\(totals.leads.invalid)"), .init("\(totals.leads.held)"), .init("\(totals.leads.cancelled)"),
            .init(lagText(totals)),
        ])
        out += states.render(style: style)

        out += "\n" + style.apply(.bold, "Requests in the last \(report.sinceText)") + "\n"
        var requests = TextTable([
            .init("PROJECT"), .init("REQUESTS", .right), .init("FAILED", .right), .init("429s", .right),
            .init("ACCEPTED", .right), .init("REJECTED", .right), .init("UNCONFIRMED", .right),
            .init("INVALID", .right), .init("INVALID RATE", .right), .init("LAST SUCCESS"),
        ])
        for (index, p) in (report.projects + [totals]).enumerated() {
            requests.append([
                .init(p.projectId, index == report.projects.count ? .bold : nil),
                .init("\(p.requests.total)"), .init("\(p.requests.failed)", p.requests.failed > 0 ? .yellow : nil),
                .init("\(p.requests.rateLimited)"), .init("\(p.requests.accepted)"), .init("\(p.requests.rejected)"),
                .init("\(p.requests.unconfirmed)", p.requests.unconfirmed > 0 ? .yellow : nil),
                .init("\(p.invalidSince)"),
                .init(p.invalidRate.map(RateText.format) ?? "-", flag(p.projectId, "max-invalid-rate")),
                .init(p.lastSuccessAt.map(Timestamp.format) ?? "-"),
            ])
        }
        out += requests.render(style: style)

        out += section("Requests by outcome in the last \(report.sinceText)", style: style) {
            var t = TextTable([.init("PROJECT"), .init("OUTCOME"), .init("REQUESTS", .right)])
            for p in report.projects {
                for (outcome, count) in p.requests.byOutcome.nonZero { t.append([p.projectId, outcome, "\(count)"]) }
            }
            return t
        }
        out += section("Invalid leads by reason", style: style) {
            var t = TextTable([.init("PROJECT"), .init("REASON"), .init("SOURCE"), .init("LEADS", .right)])
            for p in report.projects {
                for (reason, count) in p.invalidByReason.nonZero {
                    let source = InvalidReason(rawValue: reason)?.source.rawValue ?? "-"
                    t.append([p.projectId, reason, source, "\(count)"])
                }
            }
            return t
        }
        out += section("Held leads by reason", style: style) {
            var t = TextTable([.init("PROJECT"), .init("REASON"), .init("LEADS", .right)])
            for p in report.projects {
                for (reason, count) in p.heldByReason.nonZero { t.append([p.projectId, reason, "\(count)"]) }
            }
            return t
        }
        out += section("Paused projects", style: style) {
            var t = TextTable([.init("PROJECT"), .init("UNTIL"), .init("REASON")])
            for p in report.projects where p.paused {
                t.append([p.projectId, p.pausedUntil.map(Timestamp.format) ?? "-", p.pauseReason ?? "-"])
            }
            return t
        }
        if let breaches {
            out += "\n" + style.apply(.bold, "Check") + "\n"
            if breaches.isEmpty {
                out += style.apply(.green, "passed") + "\n"
            } else {
                for breach in breaches { out += style.apply(.red, "breached: \(breach.description)") + "\n" }
            }
        }
        return out
    }

    private func section(_ title: String, style: TerminalStyle, _ build: () -> TextTable) -> String {
        let table = build()
        return "\n" + style.apply(.bold, title) + "\n" + (table.isEmpty ? "none\n" : table.render(style: style))
    }

    // MARK: JSON

    public func json() -> String {
        var w = JSONWriter(reservingCapacity: 4096)
        w.beginObject()
        w.field("generated_at", date: report.generatedAt)
        w.field("since", string: report.sinceText)
        w.field("since_seconds", int64: DurationText.wholeSeconds(report.since))
        w.key("projects")
        w.beginArray()
        for p in report.projects {
            w.beginObject()
            w.field("project_id", string: p.projectId)
            w.field("paused", bool: p.paused)
            w.field("pause_reason", string: p.pauseReason)
            w.field("paused_until", date: p.pausedUntil)
            body(p, into: &w)
            w.endObject()
        }
        w.endArray()
        w.key("totals")
        w.beginObject()
        w.field("projects", int: report.projects.count)
        w.field("paused_projects", int: report.pausedCount)
        body(report.totals, into: &w)
        w.endObject()
        if let breaches {
            w.key("check")
            w.beginObject()
            w.field("passed", bool: breaches.isEmpty)
            w.key("breaches")
            w.beginArray()
            for b in breaches {
                w.beginObject()
                w.field("threshold", string: b.threshold)
                w.field("project_id", string: b.project)
                w.field("limit", string: b.limit)
                w.field("value", string: b.value)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endObject()
        return w.text + "\n"
    }

    private func body(_ p: ProjectReport, into w: inout JSONWriter) {
        w.key("leads")
        w.beginObject()
        w.field("pending", int: p.leads.pending)
        w.field("retrying", int: p.leads.retrying)
        w.field("in_flight", int: p.leads.inFlight)
        w.field("submitted", int: p.leads.submitted)
        w.field("invalid", int: p.leads.invalid)
        w.field("held", int: p.leads.held)
        w.field("cancelled", int: p.leads.cancelled)
        w.field("total", int: p.leads.total)
        w.endObject()
        w.field("oldest_pending_at", date: p.oldestPendingAt)
        w.field("lag_seconds", int64: p.lag(at: report.generatedAt).map(DurationText.wholeSeconds))
        w.field("invalid_by_reason", counts: p.invalidByReason.nonZero)
        w.field("held_by_reason", counts: p.heldByReason.nonZero)
        w.key("requests")
        w.beginObject()
        w.field("total", int: p.requests.total)
        w.field("failed", int: p.requests.failed)
        w.field("rate_limited", int: p.requests.rateLimited)
        w.field("by_outcome", counts: p.requests.byOutcome.nonZero)
        w.field("leads_accepted", int: p.requests.accepted)
        w.field("leads_rejected", int: p.requests.rejected)
        w.field("leads_unconfirmed", int: p.requests.unconfirmed)
        w.endObject()
        w.field("invalid_since", int: p.invalidSince)
        w.field("invalid_rate", number: p.invalidRate.map(RateText.rounded))
        w.field("last_success_at", date: p.lastSuccessAt)
    }

    // MARK: CSV

    /// One row per project, fixed columns (every known reason and outcome has its own);
    /// no totals row, which a spreadsheet computes better.
    public func csv() -> String {
        let probe = ProjectReport(projectId: "")
        var header = [
            "project_id", "paused", "pause_reason", "paused_until", "pending", "retrying", "in_flight", "submitted",
            "invalid", "held", "cancelled", "total", "oldest_pending_at", "lag_seconds", "requests", "requests_failed",
            "rate_limited", "leads_accepted", "leads_rejected", "leads_unconfirmed", "invalid_since", "invalid_rate",
            "last_success_at",
        ]
        header += probe.invalidByReason.all.map { "invalid_\($0.0)" }
        header += probe.heldByReason.all.map { "held_\($0.0)" }
        header += probe.requests.byOutcome.all.map { "outcome_\($0.0)" }
        var out = CSV.record(header)
        for p in report.projects {
            var row: [String?] = [
                p.projectId, p.paused ? "true" : "false", p.pauseReason, p.pausedUntil.map(Timestamp.format),
                "\(p.leads.pending)", "\(p.leads.retrying)", "\(p.leads.inFlight)", "\(p.leads.submitted)",
                "\(p.leads.invalid)", "\(p.leads.held)", "\(p.leads.cancelled)", "\(p.leads.total)",
                p.oldestPendingAt.map(Timestamp.format),
                p.lag(at: report.generatedAt).map { "\(DurationText.wholeSeconds($0))" },
                "\(p.requests.total)", "\(p.requests.failed)", "\(p.requests.rateLimited)", "\(p.requests.accepted)",
                "\(p.requests.rejected)", "\(p.requests.unconfirmed)", "\(p.invalidSince)",
                p.invalidRate.map { JSONNumber.text(RateText.rounded($0)) }, p.lastSuccessAt.map(Timestamp.format),
            ]
            row += p.invalidByReason.all.map { "\($0.1)" }
            row += p.heldByReason.all.map { "\($0.1)" }
            row += p.requests.byOutcome.all.map { "\($0.1)" }
            out += CSV.record(row)
        }
        return out
    }
}
