import Foundation
import LeadSyncAdmin
import LeadSyncCore
import Logging
import PostgresNIO

/// One lead as `leadsync lead show` tells it (`LeadDetail`): fields, state, every attempt
/// it was in with the answer, its invalid marker, what replaced it.
struct LeadPage: Sendable {
    struct Field: Sendable {
        var name: String
        var value: String
        var link: String
    }

    struct HistoryLine: Sendable {
        var attempt: String
        var started: String
        var duration: String
        var http: String
        var outcome: String
        var outcomeClass: String
        var result: String
        var message: String
    }

    struct Related: Sendable {
        var text: String
        var link: String
    }

    var id: String
    var projectId: String
    var projectLink: String
    var status: String
    var statusClass: String
    var fields: [Field]
    var history: [HistoryLine]
    var marker: [Field]
    var related: [Related]
    var canResubmit: Bool
    var phone: String
    var processId: String

    static func build(_ d: LeadDetail) -> LeadPage {
        let lead = d.record.lead
        let r = d.record
        var fields: [Field] = []
        func add(_ name: String, _ value: String?, link: String = "") {
            fields.append(Field(name: name, value: value ?? "–", link: link))
        }
        for field in d.recordFields {
            let link = field.name == "project" ? HTMLText.link("/project", [("id", lead.projectId)]) : ""
            add(field.name, field.value, link: link)
        }

        var marker: [Field] = []
        if let m = d.marker {
            marker = [
                Field(name: "reason", value: m.reason, link: HTMLText.link("/invalid", [("reason", m.reason)])),
                Field(name: "source", value: m.source, link: ""),
                Field(name: "message", value: m.message, link: ""),
                Field(name: "attempt", value: m.attemptId.map { "\($0)" } ?? "–", link: ""),
                Field(name: "marked_at", value: Timestamp.format(m.markedAt), link: ""),
            ]
        }
        var related: [Related] = []
        if let original = r.resubmitOf {
            related.append(Related(text: "a corrected copy of lead \(original)", link: "/lead?id=\(original)"))
        }
        for copy in d.replacedBy {
            related.append(Related(text: "replaced by lead \(copy.id) (\(copy.status))", link: "/lead?id=\(copy.id)"))
        }
        if let holder = d.phoneHolder, holder.id != lead.id {
            related.append(
                Related(
                    text:
                        "its phone is held by lead \(holder.id) (\(holder.status.isEmpty ? "deleted" : holder.status))",
                    link: "/lead?id=\(holder.id)"))
        }
        let statusClass =
            switch r.status {
            case "submitted": "good"
            case "invalid": "bad"
            case "held": "warn"
            default: ""
            }
        return LeadPage(
            id: "\(lead.id)", projectId: lead.projectId,
            projectLink: HTMLText.link("/project", [("id", lead.projectId)]), status: d.displayStatus,
            statusClass: statusClass, fields: fields,
            history: d.history.map { h in
                HistoryLine(
                    attempt: "\(h.attemptId)", started: Timestamp.format(h.startedAt),
                    duration: h.finishedAt.map {
                        DurationText.formatElapsed(
                            milliseconds: Int64(($0.timeIntervalSince(h.startedAt) * 1000).rounded()))
                    } ?? "open",
                    http: h.httpStatus.map { "\($0)" } ?? "–", outcome: h.outcome ?? "open",
                    outcomeClass: ProjectPage.outcomeClass(h.outcome), result: h.result, message: h.message ?? "")
            },
            marker: marker, related: related,
            canResubmit: ["invalid", "held", "cancelled"].contains(r.status) && d.replacedBy.isEmpty,
            phone: lead.phone ?? "", processId: lead.processId ?? "")
    }
}

/// A search that names several leads (or none).
struct LeadSearchPage: Sendable {
    struct Match: Sendable {
        var id: String
        var link: String
    }

    var query: String
    var matches: [Match]
}
