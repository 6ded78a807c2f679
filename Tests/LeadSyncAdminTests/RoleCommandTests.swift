import Foundation
import LeadSyncTesting
import Testing

/// Each command with exactly its role's rights (docs/contract.md §1, README Security): a login role of
/// the test's own, member of one LeadSync role.
@Suite struct RoleCommandTests {
    @Test func theReaderRunsTheReadOnlyCommands() async throws {
        try await Seed.with { db in
            try await db.withLoginRole(memberOf: "leadsync_reader") { url in
                for command in [
                    ["report", "--now", Seed.now], ["invalid"], ["attempts"], ["lead", "show", "3"], ["check"],
                    ["project", "list"],
                ] {
                    let result = try await leadsync(command, url: url.urlString)
                    #expect(result.status == 0, "\(command): \(result)")
                }
                // An operator command fails in one line naming what is missing.
                let pause = try await leadsync(["project", "pause", "acme"], url: url.urlString)
                #expect(pause.status == 1, "\(pause)")
                #expect(pause.stderrLines.count == 1)
                #expect(pause.stderr.contains("permission denied for table projects"), "\(pause)")
                #expect(pause.stderr.contains("role lacks it"), "\(pause)")
            }
        }
    }

    @Test func theAdminRunsTheOperatorCommands() async throws {
        try await Seed.with { db in
            try await db.withLoginRole(memberOf: "leadsync_admin") { url in
                for command in [
                    ["project", "pause", "acme", "--reason", "maintenance"], ["project", "resume", "beta"],
                    ["project", "set", "acme", "--rate", "50"], ["release", "--reason", "bad_request"],
                    ["lead", "resubmit", "4", "--phone", "+1 415 555 0104"], ["prune", "--older-than", "30d"],
                    ["prune", "--leads", "--older-than", "30d", "--now", Seed.now, "--dry-run"],
                    ["prune", "--leads", "--older-than", "30d", "--now", Seed.now],
                    ["report", "--now", Seed.now],
                ] {
                    let result = try await leadsync(command, url: url.urlString)
                    #expect(result.status == 0, "\(command): \(result)")
                }
            }
            #expect(try await db.value(Int64.self, "SELECT resubmit_of FROM leadsync.leads WHERE id = 101") == 4)
            // Lead 2, submitted in March, was pruned by the admin.
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads WHERE id = 2") == 0)
        }
    }

    /// Only the admin deletes leads: the worker (which may lock and update them) and the
    /// reader are refused in one line, and nothing is deleted.
    @Test(arguments: ["leadsync_worker", "leadsync_reader"])
    func aLesserRoleCannotPruneLeads(_ role: String) async throws {
        try await Seed.with { db in
            try await db.withLoginRole(memberOf: role) { url in
                let prune = try await leadsync(
                    ["prune", "--leads", "--older-than", "30d", "--now", Seed.now], url: url.urlString)
                #expect(prune.status == 1, "\(prune)")
                #expect(prune.stderrLines.count == 1, "\(prune)")
                #expect(prune.stderr.contains("permission denied for table leads"), "\(prune)")
            }
            #expect(try await db.value(Int.self, "SELECT count(*)::int8 FROM leadsync.leads") == 14)
        }
    }

    @Test func theWriterCannotRunTheCommands() async throws {
        try await Seed.with { db in
            try await db.withLoginRole(memberOf: "leadsync_writer") { url in
                let report = try await leadsync(["report", "--now", Seed.now], url: url.urlString)
                #expect(report.status == 1, "\(report)")
                #expect(report.stderrLines.count == 1)
                #expect(report.stderr.contains("permission denied"), "\(report)")
            }
        }
    }
}
