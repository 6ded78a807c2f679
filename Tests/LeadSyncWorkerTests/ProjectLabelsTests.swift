import Testing

@testable import LeadSyncWorker

@Suite struct ProjectLabelsTests {
    @Test func projectsBeyondTheLimitFoldIntoOther() {
        var labels = ProjectLabels(limit: 2)
        #expect(labels.label(for: "a") == "a")
        #expect(labels.label(for: "b") == "b")
        #expect(labels.label(for: "c") == "other")
        // Those named keep their label; the overflow stays folded.
        #expect(labels.label(for: "a") == "a")
        #expect(labels.label(for: "c") == "other")
        #expect(labels.label(for: "d") == "other")
    }

    @Test func zeroFoldsEveryProject() {
        var labels = ProjectLabels(limit: 0)
        #expect(labels.label(for: "a") == "other")
    }

    @Test func backlogGaugesOfFoldedProjectsAddUp() {
        var labels = ProjectLabels(limit: 1)
        let folded = ProjectLabels.foldBacklog(
            [
                (project: "a", pending: 5, oldestAge: 1), (project: "b", pending: 3, oldestAge: 9),
                (project: "c", pending: 4, oldestAge: 2),
            ],
            labels: &labels)
        #expect(folded.map(\.project) == ["a", "other"])
        #expect(folded.map(\.pending) == [5, 7])
        #expect(folded.map(\.oldestAge) == [1, 9])
    }

    @Test func theDefaultIsAThousand() {
        #expect(WorkerMetrics.defaultMaxProjects == 1000)
        var labels = ProjectLabels(limit: WorkerMetrics.defaultMaxProjects)
        for i in 0..<1000 { #expect(labels.label(for: "p\(i)") == "p\(i)") }
        #expect(labels.label(for: "p1000") == "other")
    }
}
