import ArgumentParser

/// `leadsync`: the worker and the operator's commands (SPEC §7).
struct LeadSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadsync",
        abstract: "Moves leads from PostgreSQL into the Uservox CRM, and reports on it.",
        discussion: """
            Reads DATABASE_URL (postgres://user:pass@host:port/db).

            Examples:
              leadsync migrate            apply pending schema migrations
              leadsync migrate --status   list applied and pending migrations
            """,
        subcommands: [MigrateCommand.self, WorkerCommand.self]
    )
}
