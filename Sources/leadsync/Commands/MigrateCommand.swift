import ArgumentParser
import LeadSyncStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (safe to run from several processes at once).",
        discussion: """
            Each migration runs in its own transaction and is recorded with a checksum in
            leadsync.schema_migrations. A migration that changed after it was applied is refused.

            Examples:
              DATABASE_URL=postgres://postgres@localhost/leads leadsync migrate
              leadsync migrate --status
            """
    )

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    func run() async throws {
        let url = try Environment.databaseURL()
        let logger = Environment.logger()
        let migrator = Migrator(logger: logger)
        try await url.withConnection(logger: logger) { connection in
            do {
                if status {
                    let state = try await migrator.status(on: connection)
                    for row in state.applied {
                        print("applied  \(row.fileName)  \(row.appliedAt)")
                    }
                    for name in state.pending {
                        print("pending  \(name)")
                    }
                    if state.pending.isEmpty { print("up to date") }
                } else {
                    let ran = try await migrator.migrate(on: connection)
                    for name in ran { print("applied \(name)") }
                    print(ran.isEmpty ? "up to date" : "applied \(ran.count) migration(s)")
                }
            } catch {
                throw StoreError.from(error, doing: "migrate")
            }
        }
    }
}
