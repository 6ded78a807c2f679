import Foundation
import LeadSyncAdmin
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO

/// The invalid or held list: filtered by project and reason, paged by id (keyset: a page
/// costs the same at any depth), with the CLI's CSV and JSON exports of the same filter.
struct ListPage: Sendable {
    enum Kind: String, Sendable {
        case invalid, held

        var title: String { self == .invalid ? "Invalid leads" : "Held leads" }
        var reasons: [String] {
            self == .invalid ? InvalidReason.allCases.map(\.rawValue) : HeldReason.allCases.map(\.rawValue)
        }
    }

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct Cell: Sendable {
        var text: String
        var link: String?
        var cssClass: String
        var label: String
    }

    struct Row: Sendable {
        var leadId: String
        var leadLink: String
        var cells: [Cell]
    }

    struct Total: Sendable {
        var reason: String
        var count: String
        var link: String
    }

    var kind: String
    var title: String
    var path: String
    var projectOptions: [Option]
    var reasonOptions: [Option]
    var columns: [String]
    var rows: [Row]
    var totals: [Total]
    var total: String
    var nextLink: String?
    var firstLink: String?
    var csvLink: String
    var jsonLink: String
    var filterText: String
    var canRelease: Bool
    var project: String
    var reason: String

    struct Filter: Sendable {
        var project: String?
        var reason: String?
        var before: Int64?
    }

    static func load(
        _ kind: Kind, filter: Filter, on connection: PostgresConnection, configuration: ConsoleConfiguration,
        logger: Logger
    ) async throws -> ListPage {
        let now = try await connection.firstRow(ReportQueries.now, logger: logger) ?? Date()
        let projects = try await ProjectAdmin(logger: logger).list(on: connection, now: configuration.now ?? now)
            .map(\.projectId)
        if let project = filter.project, !projects.contains(project) {
            throw AdminError(.notFound, "no project '\(project)'")
        }
        let limit = configuration.pageSize
        var columns: [String]
        var rows: [Row] = []
        var lastId: Int64?
        var totals: [(String, Int)] = []
        func cell(_ text: String?, link: String? = nil, _ cssClass: String = "", label: String) -> Cell {
            Cell(text: text ?? "–", link: link, cssClass: cssClass, label: label)
        }
        switch kind {
        case .invalid:
            columns = ["Lead", "Project", "Reason", "Source", "Marked at", "Phone", "Message"]
            let page = try await InvalidList(logger: logger).page(
                on: connection, project: filter.project, reason: filter.reason, before: filter.before, limit: limit)
            for r in page {
                rows.append(
                    Row(
                        leadId: "\(r.leadId)", leadLink: "/lead?id=\(r.leadId)",
                        cells: [
                            cell(
                                r.projectId, link: HTMLText.link("/project", [("id", r.projectId)]), label: columns[1]),
                            cell(r.reason, "code", label: columns[2]), cell(r.source, label: columns[3]),
                            cell(Timestamp.format(r.markedAt), "time", label: columns[4]),
                            cell(r.phone, label: columns[5]), cell(r.message, "message", label: columns[6]),
                        ]))
            }
            lastId = page.count == limit ? page.last?.leadId : nil
            totals = try await InvalidList(logger: logger).totals(
                on: connection, filter: .init(project: filter.project, reason: filter.reason)
            ).map { ($0.reason, $0.count) }
        case .held:
            columns = ["Lead", "Project", "Reason", "Held since", "Attempts", "Phone", "Last error"]
            let page = try await HeldList(logger: logger).page(
                on: connection, project: filter.project, reason: filter.reason, before: filter.before, limit: limit)
            for r in page {
                rows.append(
                    Row(
                        leadId: "\(r.leadId)", leadLink: "/lead?id=\(r.leadId)",
                        cells: [
                            cell(
                                r.projectId, link: HTMLText.link("/project", [("id", r.projectId)]), label: columns[1]),
                            cell(r.reason, "code", label: columns[2]),
                            cell(Timestamp.format(r.heldSince), "time", label: columns[3]),
                            cell("\(r.attemptCount)", label: columns[4]), cell(r.phone, label: columns[5]),
                            cell(r.lastError, "message", label: columns[6]),
                        ]))
            }
            lastId = page.count == limit ? page.last?.leadId : nil
            var counts: [String: Int] = [:]
            for row in try await connection.rows(ReportQueries.heldCountsByReason(only: filter.project), logger: logger)
            where filter.reason == nil || row.key == filter.reason {
                counts[row.key, default: 0] += row.count
            }
            totals = kind.reasons.compactMap { reason in counts[reason].map { (reason, $0) } }
        }
        let path = "/\(kind.rawValue)"
        let base: [(String, String?)] = [("project", filter.project), ("reason", filter.reason)]
        var filterText = [filter.project.map { "project \($0)" }, filter.reason.map { "reason \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
        if filterText.isEmpty { filterText = "all projects, every reason" }
        return ListPage(
            kind: kind.rawValue, title: kind.title, path: path,
            projectOptions: [Option(value: "", label: "All projects", selected: filter.project == nil)]
                + projects.map { Option(value: $0, label: $0, selected: $0 == filter.project) },
            reasonOptions: [Option(value: "", label: "Every reason", selected: filter.reason == nil)]
                + kind.reasons.map { Option(value: $0, label: $0, selected: $0 == filter.reason) },
            columns: columns, rows: rows,
            totals: totals.map {
                Total(
                    reason: $0.0, count: Figures.count($0.1),
                    link: HTMLText.link(path, [("project", filter.project), ("reason", $0.0)]))
            },
            total: Figures.count(totals.reduce(0) { $0 + $1.1 }),
            nextLink: lastId.map { HTMLText.link(path, base + [("before", "\($0)")]) },
            firstLink: filter.before == nil ? nil : HTMLText.link(path, base),
            csvLink: HTMLText.link("\(path).csv", base), jsonLink: HTMLText.link("\(path).json", base),
            filterText: filterText, canRelease: kind == .held && !rows.isEmpty,
            project: filter.project ?? "", reason: filter.reason ?? "")
    }
}
