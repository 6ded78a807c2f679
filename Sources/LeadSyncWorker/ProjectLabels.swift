import Synchronization

/// Project ids as metric labels, bounded: every label value is a time series Prometheus
/// keeps, so the first `limit` projects seen get one each and the rest share `other`.
public struct ProjectLabels: Sendable {
    /// The label value of every project beyond the limit.
    public static let overflow = "other"

    public private(set) var limit: Int
    private var named: Set<String> = []

    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// The label for `project`: its id while it is among the first `limit` seen, else `other`.
    public mutating func label(for project: String) -> String {
        if named.contains(project) { return project }
        guard named.count < limit else { return Self.overflow }
        named.insert(project)
        return project
    }

    /// Gauges are last-write-wins, so projects sharing a label must be summed first
    /// (pending leads) or take the worst (oldest age), in first-seen label order.
    public static func foldBacklog(
        _ rows: [(project: String, pending: Int, oldestAge: Double)], labels: inout ProjectLabels
    ) -> [(project: String, pending: Int, oldestAge: Double)] {
        var order: [String] = []
        var totals: [String: (pending: Int, oldestAge: Double)] = [:]
        for row in rows {
            let label = labels.label(for: row.project)
            if let total = totals[label] {
                totals[label] = (total.pending + row.pending, max(total.oldestAge, row.oldestAge))
            } else {
                order.append(label)
                totals[label] = (row.pending, row.oldestAge)
            }
        }
        return order.map { (project: $0, pending: totals[$0]!.pending, oldestAge: totals[$0]!.oldestAge) }
    }

    /// Projects already named keep their label; only new ones are judged by the new limit.
    public mutating func setLimit(_ limit: Int) {
        self.limit = max(0, limit)
    }
}

/// The worker's one `ProjectLabels`, shared by everything that records metrics.
public final class SharedProjectLabels: Sendable {
    private let labels: Mutex<ProjectLabels>

    public init(limit: Int) {
        labels = Mutex(ProjectLabels(limit: limit))
    }

    public func label(for project: String) -> String {
        labels.withLock { $0.label(for: project) }
    }

    public func setLimit(_ limit: Int) {
        labels.withLock { $0.setLimit(limit) }
    }

    func withLabels<T: Sendable>(_ body: (inout ProjectLabels) -> T) -> T {
        labels.withLock { body(&$0) }
    }
}
