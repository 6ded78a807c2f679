import Foundation
import LeadSyncAdmin
import Testing

@Suite struct ReportCheckTests {
    let now = Date(timeIntervalSince1970: 1_714_564_800)  // 2024-05-01T12:00:00Z

    func report() -> Report {
        var acme = ProjectReport(projectId: "acme")
        acme.leads.pending = 5
        acme.leads.held = 1
        acme.oldestPendingAt = now.addingTimeInterval(-600)
        acme.invalidSince = 1
        acme.requests.accepted = 99
        var beta = ProjectReport(projectId: "beta")
        beta.leads.held = 12
        beta.oldestPendingAt = now.addingTimeInterval(-7200)
        beta.invalidSince = 3
        beta.requests.accepted = 1
        return Report(generatedAt: now, sinceText: "24h", since: .seconds(86_400), projects: [acme, beta])
    }

    @Test func namesEveryBreachedThresholdPerProject() {
        let thresholds = ReportThresholds(maxInvalidRate: 0.05, maxLag: .seconds(900), maxHeld: 10)
        let breaches = thresholds.breaches(in: report())
        #expect(breaches.map(\.threshold) == ["max-invalid-rate", "max-lag", "max-held"])
        #expect(breaches.allSatisfy { $0.project == "beta" })
        #expect(
            ReportThresholds.summary(breaches)
                == "check failed: --max-invalid-rate 5.0% breached by beta (75.0% invalid in 24h); "
                + "--max-lag 15m breached by beta (oldest pending lead waits 2h); --max-held 10 breached by beta (12 held)"
        )
    }

    @Test func limitsAreInclusive() {
        let thresholds = ReportThresholds(maxInvalidRate: 0.75, maxLag: .seconds(7200), maxHeld: 12)
        #expect(thresholds.breaches(in: report()).isEmpty)
    }

    @Test func noDecisionsMeansNoRate() {
        var project = ProjectReport(projectId: "idle")
        #expect(project.invalidRate == nil)
        project.invalidSince = 2
        #expect(project.invalidRate == 1)
    }

    @Test func totalsFoldProjects() {
        let totals = report().totals
        #expect(totals.leads.held == 13)
        #expect(totals.oldestPendingAt == now.addingTimeInterval(-7200))
        #expect(totals.invalidSince == 4)
        #expect(totals.invalidRate == 4.0 / 104.0)
    }
}
