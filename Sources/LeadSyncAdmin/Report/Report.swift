import Foundation
import LeadSyncCore

/// `leadsync report`: per project, where its leads are, why some are invalid or held, how
/// far behind it is, and how its requests went in the window (docs/contract.md §7).
public struct Report: Sendable, Equatable {
    /// The database's clock when the report was taken.
    public var generatedAt: Date
    /// `--since` as typed (`24h`) and as a duration.
    public var sinceText: String
    public var since: Duration
    public var projects: [ProjectReport]

    public init(generatedAt: Date, sinceText: String, since: Duration, projects: [ProjectReport]) {
        self.generatedAt = generatedAt
        self.sinceText = sinceText
        self.since = since
        self.projects = projects
    }

    /// Every project folded into one row: counts summed, the oldest pending lead, the latest success.
    public var totals: ProjectReport {
        var total = ProjectReport(projectId: "TOTAL")
        for project in projects {
            total.leads.add(project.leads)
            total.invalidByReason.add(project.invalidByReason)
            total.heldByReason.add(project.heldByReason)
            total.requests.add(project.requests)
            total.invalidSince += project.invalidSince
            total.oldestPendingAt = [total.oldestPendingAt, project.oldestPendingAt].compactMap { $0 }.min()
            total.lastSuccessAt = [total.lastSuccessAt, project.lastSuccessAt].compactMap { $0 }.max()
        }
        return total
    }

    public var pausedCount: Int { projects.filter(\.paused).count }
}

/// One project's line of the report.
public struct ProjectReport: Sendable, Equatable {
    public var projectId: String
    public var paused = false
    public var pauseReason: String?
    public var pausedUntil: Date?
    public var leads = LeadCounts()
    public var invalidByReason = Counts(order: InvalidReason.allCases.map(\.rawValue))
    public var heldByReason = Counts(order: HeldReason.allCases.map(\.rawValue))
    /// Creation time of the oldest lead still waiting to be sent (pending, retrying or in flight).
    public var oldestPendingAt: Date?
    public var requests = RequestCounts()
    /// Leads marked invalid within the window (local and API verdicts alike).
    public var invalidSince = 0
    /// When a request last had a lead accepted (any time, not only in the window).
    public var lastSuccessAt: Date?

    public init(projectId: String) { self.projectId = projectId }

    /// How long the oldest waiting lead has waited; nil when nothing waits.
    public func lag(at now: Date) -> Duration? {
        oldestPendingAt.map { .milliseconds(Int64((now.timeIntervalSince($0) * 1000).rounded())) }
    }

    /// Of the leads decided in the window, the share found invalid; nil when none was decided.
    public var invalidRate: Double? {
        let decided = invalidSince + requests.accepted
        return decided == 0 ? nil : Double(invalidSince) / Double(decided)
    }
}

/// Leads by state. `pending` here means ready and waiting its turn: leads a request is
/// carrying (`inFlight`) and leads waiting out a retry back-off (`retrying`) are counted apart,
/// although all three are `pending` in the table.
public struct LeadCounts: Sendable, Equatable {
    public var pending = 0
    public var retrying = 0
    public var inFlight = 0
    public var submitted = 0
    public var invalid = 0
    public var held = 0
    public var cancelled = 0

    public init() {}

    public var total: Int { pending + retrying + inFlight + submitted + invalid + held + cancelled }

    mutating func add(_ other: LeadCounts) {
        pending += other.pending
        retrying += other.retrying
        inFlight += other.inFlight
        submitted += other.submitted
        invalid += other.invalid
        held += other.held
        cancelled += other.cancelled
    }
}

/// Requests started in the window.
public struct RequestCounts: Sendable, Equatable {
    /// By `submission_attempts.outcome`; still-open requests under `open`.
    public var byOutcome = Counts(order: OutcomePlanner.AttemptOutcome.allCases.map(\.rawValue) + ["open"])
    /// Leads the API accepted, rejected, or left unanswered.
    public var accepted = 0
    public var rejected = 0
    public var unconfirmed = 0

    public init() {}

    public var total: Int { byOutcome.total }
    /// 429 answers.
    public var rateLimited: Int { byOutcome[OutcomePlanner.AttemptOutcome.rateLimited.rawValue] }
    /// Requests that failed as a whole: everything but the answered ones (ok, partial,
    /// rejected), the 429s and those still open.
    public var failed: Int {
        let fine =
            Set(OutcomePlanner.AttemptOutcome.allCases.filter(\.isAnswered).map(\.rawValue))
            .union([OutcomePlanner.AttemptOutcome.rateLimited.rawValue, "open"])
        return byOutcome.nonZero.filter { !fine.contains($0.0) }.reduce(0) { $0 + $1.1 }
    }

    mutating func add(_ other: RequestCounts) {
        byOutcome.add(other.byOutcome)
        accepted += other.accepted
        rejected += other.rejected
        unconfirmed += other.unconfirmed
    }
}

/// Counts by code, listed in a fixed order (the codes' declaration order, unknown codes last
/// by name) so every format prints them the same way every time.
public struct Counts: Sendable, Equatable {
    public let order: [String]
    public private(set) var values: [String: Int] = [:]

    public init(order: [String]) { self.order = order }

    public subscript(code: String) -> Int {
        get { values[code] ?? 0 }
        set { values[code] = newValue }
    }

    public var total: Int { values.values.reduce(0, +) }

    /// Known codes in order, then unknown ones by name; zeros left out.
    public var nonZero: [(String, Int)] {
        let known = Set(order)
        let extra = values.keys.filter { !known.contains($0) }.sorted()
        return (order + extra).compactMap { code in values[code].flatMap { $0 == 0 ? nil : (code, $0) } }
    }

    /// Every known code in order (zeros included), then unknown ones: for CSV's fixed columns.
    public var all: [(String, Int)] {
        let known = Set(order)
        let extra = values.keys.filter { !known.contains($0) }.sorted()
        return (order + extra).map { ($0, values[$0] ?? 0) }
    }

    mutating func add(_ other: Counts) {
        for (code, count) in other.values { values[code, default: 0] += count }
    }
}
