import WireJSON

/// What one project received and how it was answered (`GET /_sim/stats`), so a test can
/// prove that no limit was broken and nothing was sent twice (docs/contract.md §8).
public struct ProjectStats: Sendable, Equatable {
    /// Every bulk request for the project, refused ones included.
    public var requests = 0
    /// Requests answered 429 (rate limit or duplicate block).
    public var rateLimited = 0
    /// Items in the bodies of requests that passed the rate limit.
    public var leadsReceived = 0
    public var accepted = 0
    public var rejected = 0
    /// The most requests received within any window of the project's rate-limit length.
    public var maxRequestsInWindow = 0
    /// Leads received again after a 200 had already given them a verdict.
    public var resentAfterFinal = 0
    /// Requests answered 500 (injected, or processed then 500).
    public var serverErrors = 0
    /// Connections closed without an answer (drops and hangs).
    public var dropped = 0
    /// Requests answered 400, 403 or 404.
    public var refused = 0
    /// Times duplicate protection blocked the project.
    public var blocks = 0

    public init() {}

    static func + (lhs: ProjectStats, rhs: ProjectStats) -> ProjectStats {
        var sum = ProjectStats()
        sum.requests = lhs.requests + rhs.requests
        sum.rateLimited = lhs.rateLimited + rhs.rateLimited
        sum.leadsReceived = lhs.leadsReceived + rhs.leadsReceived
        sum.accepted = lhs.accepted + rhs.accepted
        sum.rejected = lhs.rejected + rhs.rejected
        sum.maxRequestsInWindow = lhs.maxRequestsInWindow + rhs.maxRequestsInWindow
        sum.resentAfterFinal = lhs.resentAfterFinal + rhs.resentAfterFinal
        sum.serverErrors = lhs.serverErrors + rhs.serverErrors
        sum.dropped = lhs.dropped + rhs.dropped
        sum.refused = lhs.refused + rhs.refused
        sum.blocks = lhs.blocks + rhs.blocks
        return sum
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        for (name, value) in [
            ("requests", requests), ("rateLimited", rateLimited), ("leadsReceived", leadsReceived),
            ("accepted", accepted), ("rejected", rejected), ("maxRequestsInWindow", maxRequestsInWindow),
            ("resentAfterFinal", resentAfterFinal), ("serverErrors", serverErrors), ("dropped", dropped),
            ("refused", refused), ("blocks", blocks),
        ] {
            writer.key(name)
            writer.int(value)
        }
        writer.endObject()
    }
}

/// Every project's counters and their sums.
public struct SimulatorStats: Sendable, Equatable {
    public var projects: [String: ProjectStats]
    /// Requests whose token matched no project.
    public var unauthorized: Int

    /// Sums over the projects (`maxRequestsInWindow` too: a sum of per-project peaks).
    public var totals: ProjectStats { projects.values.reduce(ProjectStats(), +) }

    var json: [UInt8] {
        var writer = JSONWriter(reservingCapacity: 512)
        writer.beginObject()
        writer.key("projects")
        writer.beginObject()
        for id in projects.keys.sorted() {
            writer.key(id)
            projects[id]!.write(to: &writer)
        }
        writer.endObject()
        writer.key("totals")
        totals.write(to: &writer)
        writer.key("unauthorized")
        writer.int(unauthorized)
        writer.endObject()
        return writer.bytes
    }
}

/// The last answer the simulator gave one lead (`GET /_sim/verdicts`).
public struct SimulatorVerdict: Sendable, Equatable {
    public enum Result: String, Sendable { case accepted, rejected }

    public var project: String
    public var referenceId: String?
    /// The phone as received.
    public var phone: String?
    /// Set for `leadIds` requests.
    public var leadId: String?
    public var result: Result
    /// The id the lead was accepted under.
    public var id: String?
    public var error: String?
    /// How many processed requests carried this lead.
    public var received: Int
    /// Whether a 200 ever delivered a verdict for it (a "processed then 500" does not).
    public var answered: Bool

    func write(to writer: inout JSONWriter, withProject: Bool) {
        writer.beginObject()
        if withProject { writer.field("project", project) }
        writer.field("referenceId", referenceId)
        writer.field("phone", phone)
        writer.field("leadId", leadId)
        writer.field("result", result.rawValue)
        writer.field("id", id)
        writer.field("error", error)
        writer.key("received")
        writer.int(received)
        writer.key("answered")
        writer.bool(answered)
        writer.endObject()
    }

    static func json(_ verdicts: [SimulatorVerdict], withProject: Bool) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 128 * verdicts.count + 32)
        writer.beginObject()
        writer.key("verdicts")
        writer.beginArray()
        for verdict in verdicts { verdict.write(to: &writer, withProject: withProject) }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }
}
