import Foundation
import LeadSyncTesting
import Testing

/// What every admin command shares (issue 5): help with examples, one-line errors, exit codes.
@Suite struct ConventionTests {
    static let commands: [[String]] = [
        ["report"], ["invalid"], ["attempts"], ["lead", "show", "1"], ["lead", "resubmit", "1"], ["project", "list"],
        ["project", "pause", "acme"], ["project", "resume", "acme"], ["project", "set", "acme", "--rate", "5"],
        ["release"], ["check"], ["prune", "--older-than", "30d"],
    ]

    @Test(arguments: commands)
    func unreachableDatabaseExitsOneWithOneLine(_ arguments: [String]) async throws {
        let result = try await leadsync(arguments, db: nil)
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.hasPrefix("leadsync: cannot connect to postgres://x@127.0.0.1:1/db"))
    }

    @Test(arguments: commands)
    func databaseWithoutTheSchemaSaysToMigrate(_ arguments: [String]) async throws {
        try await TestDatabase.with(migrated: false) { db in
            let result = try await leadsync(arguments, db: db)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderrLines.count == 1, "\(result)")
            #expect(result.stderr.hasSuffix("the database has no up-to-date leadsync schema; run leadsync migrate\n"))
        }
    }

    @Test func missingDatabaseURLIsOneLine() async throws {
        let process = try ManagedProcess(
            ProductBinary.path("leadsync"), arguments: ["report"], environment: ["DATABASE_URL": ""])
        #expect(try await process.waitForExit() == 1)
        #expect(
            process.standardError
                == "leadsync: DATABASE_URL is not set (e.g. postgres://user:pass@localhost:5432/leads)\n")
    }

    @Test(arguments: [
        ["report"], ["invalid"], ["attempts"], ["lead"], ["lead", "show"], ["lead", "resubmit"], ["project"],
        ["project", "list"], ["project", "pause"], ["project", "resume"], ["project", "set"], ["release"], ["check"],
        ["prune"],
    ])
    func helpHasExamples(_ command: [String]) async throws {
        let result = try await leadsync(command + ["--help"], db: nil)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("Examples:\n  leadsync \(command.first!)"), "\(result.stdout)")
    }

    @Test func rootHelpListsEveryCommand() async throws {
        let result = try await leadsync("--help", db: nil)
        #expect(result.status == 0)
        for name in ["report", "invalid", "attempts", "lead", "project", "release", "check", "prune"] {
            #expect(result.stdout.contains("\n  \(name) "), "\(name)")
        }
    }

    @Test func unknownCommandExitsTwo() async throws {
        let result = try await leadsync("reprot", db: nil)
        #expect(result.status == 2)
    }

    @Test(arguments: [["--max-requests", "0"], ["--db-connections", "0"], ["--metrics-port", "70000"]])
    func workerLimitsOutOfRangeAreUsageErrors(_ flags: [String]) async throws {
        let result = try await leadsync(["worker"] + flags, db: nil)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(flags[0]), "\(result.stderr)")
    }
}
