import Foundation
import Testing

@testable import LeadSyncStore

/// The binary carries migrations/*.sql; this fails when someone forgot scripts/embed-migrations.sh.
@Suite struct EmbeddedMigrationsTests {
    static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    @Test func embeddedCopyMatchesTheFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.migrationsDirectory.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(Migration.embedded.map(\.fileName) == files, "run scripts/embed-migrations.sh")
        for migration in Migration.embedded {
            let text = try String(
                contentsOf: Self.migrationsDirectory.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(
                migration.sql == text.trimmingCharacters(in: .newlines),
                "\(migration.fileName) changed: run scripts/embed-migrations.sh")
        }
    }

    @Test func versionsAreUniqueAndIncreasing() {
        let versions = Migration.embedded.map(\.version)
        #expect(versions == versions.sorted())
        #expect(Set(versions).count == versions.count)
        #expect(!versions.contains(0))
    }
}
