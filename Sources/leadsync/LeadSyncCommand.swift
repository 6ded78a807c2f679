import ArgumentParser

/// `leadsync`: the worker and the operator's commands (docs/contract.md §7).
struct LeadSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadsync",
        abstract: "Moves leads from PostgreSQL into the Uservox CRM, and reports on it.",
        discussion: """
            Reads DATABASE_URL (postgres://user:pass@host:port/db[?sslmode=verify-full&sslrootcert=FILE];
            sslmode, sslrootcert, sslcert and sslkey as libpq defines them).

            Exit codes: 0 ok, 1 error (one line on stderr), 2 usage,
            3 a report --check threshold breached.
            Tables are coloured on a terminal unless NO_COLOR is set.

            Examples:
              leadsync migrate                apply pending schema migrations
              leadsync worker                 send pending leads until stopped
              leadsync report                 per project: states, reasons, lag
              leadsync invalid --format csv   export invalid leads and messages
              leadsync lead show 42           one lead and its history
              leadsync release --reason bad_request
            """,
        subcommands: [
            MigrateCommand.self, WorkerCommand.self, ReportCommand.self, InvalidCommand.self, AttemptsCommand.self,
            LeadCommand.self, ProjectCommand.self, ReleaseCommand.self, CheckCommand.self, PruneCommand.self,
            ImportCommand.self,
            ConsoleCommand.self,
        ]
    )
}
