import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import UservoxClient
import WireJSON

/// `leadsync check`: a dry run of the worker's local pre-validation (docs/contract.md §3, last
/// paragraph) over every pending lead: which would be marked invalid, and why, right now.
/// Reads only; nothing is written, claimed or sent.
///
/// Same rules as the worker: `LeadValidator.check` for the lead on its own; then, of the
/// leads sharing a normalized phone (`Lead.phoneKey`), a lead is a duplicate when
/// `phone_claims` gives the phone to another lead that is still pending, in flight or
/// submitted, or when an earlier pending lead of the project has it.
public struct PreCheck: Sendable {
    public struct ProjectResult: Sendable, Equatable {
        public var projectId: String
        /// Pending leads looked at.
        public var checked = 0
        public var byReason = Counts(order: InvalidReason.allCases.filter { $0.source == .local }.map(\.rawValue))
        /// The first few lead ids per reason, to look at with `lead show`.
        public var examples: [String: [Int64]] = [:]

        public init(projectId: String) { self.projectId = projectId }

        public var wouldBeInvalid: Int { byReason.total }
        public var wouldPass: Int { checked - wouldBeInvalid }

        mutating func record(_ reason: InvalidReason, lead: Int64) {
            byReason[reason.rawValue] += 1
            if examples[reason.rawValue, default: []].count < PreCheck.examplesPerReason {
                examples[reason.rawValue, default: []].append(lead)
            }
        }
    }

    static let examplesPerReason = 5
    static let pageSize = 2000

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run(project: String?, on connection: PostgresConnection) async throws -> [ProjectResult] {
        let now = try await resolveNow(nil, on: connection)
        let projects = try await connection.rows(ReportQueries.projects(only: project, now: now), logger: logger)
            .map(\.projectId)
        if let project, projects.isEmpty { throw AdminError.unknownProject(project) }
        var results: [ProjectResult] = []
        for id in projects { results.append(try await check(project: id, on: connection)) }
        return results
    }

    /// Pending leads in id order (earliest wins): retries (few) merged with never-tried ones read page by page.
    func check(project: String, on connection: PostgresConnection) async throws -> ProjectResult {
        var result = ProjectResult(projectId: project)
        let maxBytes =
            try await connection.firstRow(ReportQueries.maxRequestBytes(project: project), logger: logger)
            ?? ProjectDefaults.maxRequestBytes
        var retries = try await connection.rows(ReportQueries.pendingRetries(project: project), logger: logger)
        retries.sort { $0.id < $1.id }
        var retryIndex = 0
        var seen = Set<String>()
        // Never-tried leads lie in the project's arrival ranges (migration 0011): merged into
        // disjoint intervals, read in id order page by page with the worker's own claim.
        let rows = try await connection.rows(LeadQueries.listArrivals(project: project), logger: logger)
        var intervals: [(lo: Int64, hi: Int64)] = []
        for row in rows.sorted(by: { $0.firstId < $1.firstId }) {
            if let last = intervals.last, row.firstId <= last.hi {
                intervals[intervals.count - 1].hi = max(last.hi, row.lastId)
            } else {
                intervals.append((row.firstId, row.lastId))
            }
        }
        var next = 0
        var cursor = intervals.first?.lo ?? Int64.max
        while true {
            var page: [Lead] = []
            if next < intervals.count {
                let claim = LeadQueries.ClaimArrived(
                    project: project, lows: [cursor], highs: [intervals[next].hi], limit: Self.pageSize)
                do {
                    for try await leads in try await connection.execute(claim, logger: logger) { page += leads }
                } catch let error where LeadStore.isOversizedArray(error) {
                    // Leads of huge metadata: a row each, as the worker does (LeadStore.arrivedLeads).
                    page = []
                    for try await lead in try await connection.execute(
                        LeadQueries.ClaimArrivedRows(claim), logger: logger)
                    {
                        page.append(lead)
                    }
                }
            }
            let full = page.count == Self.pageSize
            // The claim's rows come in id order as scanned; the page's end does not rely on it.
            let pageEnd =
                full ? page.lazy.map(\.id).max()! : (next + 1 < intervals.count ? intervals[next].hi : Int64.max)
            var batch: [Lead] = page
            while retryIndex < retries.count, retries[retryIndex].id <= pageEnd {
                batch.append(retries[retryIndex])
                retryIndex += 1
            }
            batch.sort { $0.id < $1.id }
            try await vet(batch, project: project, maxBytes: maxBytes, seen: &seen, into: &result, on: connection)
            if full {
                cursor = pageEnd + 1
            } else {
                next += 1
                guard next < intervals.count else { break }
                cursor = intervals[next].lo
            }
        }
        return result
    }

    private func vet(
        _ batch: [Lead], project: String, maxBytes: Int, seen: inout Set<String>, into result: inout ProjectResult,
        on connection: PostgresConnection
    ) async throws {
        guard !batch.isEmpty else { return }
        var keys: [Int64: String] = [:]
        for lead in batch { keys[lead.id] = lead.phoneKey }
        var holders: [String: Int64] = [:]
        let distinct = Array(Set(keys.values))
        if !distinct.isEmpty {
            try await connection.forEachRow(
                ReportQueries.livePhoneHolders(project: project, keys: distinct), logger: logger
            ) { holders[$0.phoneKey] = $0.leadId }
        }
        for lead in batch {
            result.checked += 1
            if let verdict = LeadValidator.check(lead) {
                result.record(verdict.reason, lead: lead.id)
                continue
            }
            guard let key = keys[lead.id] else {
                if let verdict = RequestBody.tooLargeAlone(lead, maxBytes: maxBytes) {
                    result.record(verdict.reason, lead: lead.id)
                }
                continue
            }
            if let holder = holders[key], holder != lead.id {
                result.record(.localDuplicate, lead: lead.id)
            } else if !seen.insert(key).inserted {
                result.record(.localDuplicate, lead: lead.id)
            } else if let verdict = RequestBody.tooLargeAlone(lead, maxBytes: maxBytes) {
                // Judged after the phone, as the worker does (it claims the phone first).
                result.record(verdict.reason, lead: lead.id)
            }
        }
    }

    // MARK: formats

    public static func render(_ results: [ProjectResult], _ format: OutputFormat, style: TerminalStyle = .plain)
        -> String
    {
        switch format {
        case .table: return table(results, style: style)
        case .json: return json(results)
        case .csv: return csv(results)
        }
    }

    public static func table(_ results: [ProjectResult], style: TerminalStyle = .plain) -> String {
        if results.isEmpty { return "no projects yet\n" }
        var summary = TextTable([
            .init("PROJECT"), .init("PENDING", .right), .init("WOULD PASS", .right), .init("WOULD BE INVALID", .right),
        ])
        var total = ProjectResult(projectId: "TOTAL")
        for r in results {
            summary.append([
                .init(r.projectId), .init("\(r.checked)"), .init("\(r.wouldPass)"),
                .init("\(r.wouldBeInvalid)", r.wouldBeInvalid > 0 ? .yellow : nil),
            ])
            total.checked += r.checked
            total.byReason.add(r.byReason)
        }
        summary.append([
            .init("TOTAL", .bold), .init("\(total.checked)"), .init("\(total.wouldPass)"),
            .init("\(total.wouldBeInvalid)"),
        ])
        var out = style.apply(.bold, "Local pre-check of pending leads (dry run: nothing written)") + "\n"
        out += summary.render(style: style)
        var reasons = TextTable([.init("PROJECT"), .init("REASON"), .init("LEADS", .right), .init("FIRST LEADS")])
        for r in results {
            for (reason, count) in r.byReason.nonZero {
                let ids = r.examples[reason, default: []].map { "\($0)" }.joined(separator: " ")
                reasons.append([r.projectId, reason, "\(count)", count > ids.count ? ids + " …" : ids])
            }
        }
        out += "\n" + style.apply(.bold, "Would be invalid, by reason") + "\n"
        out += reasons.isEmpty ? "none\n" : reasons.render(style: style)
        return out
    }

    public static func json(_ results: [ProjectResult]) -> String {
        var w = JSONWriter(reservingCapacity: 1024)
        w.beginObject()
        w.field("dry_run", bool: true)
        w.key("projects")
        w.beginArray()
        for r in results {
            w.beginObject()
            w.field("project_id", string: r.projectId)
            w.field("pending", int: r.checked)
            w.field("would_pass", int: r.wouldPass)
            w.field("would_be_invalid", int: r.wouldBeInvalid)
            w.field("by_reason", counts: r.byReason.nonZero)
            w.key("examples")
            w.beginObject()
            for (reason, _) in r.byReason.nonZero {
                w.key(reason)
                w.beginArray()
                for id in r.examples[reason, default: []] { w.raw(String(id).utf8) }
                w.endArray()
            }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text + "\n"
    }

    public static func csv(_ results: [ProjectResult]) -> String {
        let reasons = ProjectResult(projectId: "").byReason.all.map(\.0)
        var out = CSV.record(["project_id", "pending", "would_pass", "would_be_invalid"] + reasons)
        for r in results {
            out += CSV.record(
                [r.projectId, "\(r.checked)", "\(r.wouldPass)", "\(r.wouldBeInvalid)"]
                    + r.byReason.all.map { "\($0.1)" })
        }
        return out
    }
}
