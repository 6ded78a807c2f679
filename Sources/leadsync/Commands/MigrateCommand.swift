import ArgumentParser
import LeadSyncStore
import PostgresNIO

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (safe to run from several processes at once).",
        discussion: """
            Each migration runs in its own transaction and is recorded with a checksum in
            leadsync.schema_migrations. A migration that changed after it was applied is refused.
            Then it makes the NOLOGIN roles leadsync_writer, leadsync_worker, leadsync_reader and
            leadsync_admin when missing and grants each what it needs (every run; roles are
            cluster-wide). Needs the schema's owner, and CREATEROLE unless --no-roles.

            Examples:
              DATABASE_URL=postgres://postgres@localhost/leads leadsync migrate
              leadsync migrate --status
              leadsync migrate --no-roles          (managed databases; README has the GRANT lines)
              leadsync migrate --writer-role crm_app_insert

            It holds an advisory lock across its transactions, so it connects to
            LEADSYNC_SESSION_DATABASE_URL when that is set (DATABASE_URL names a pooler), and refuses
            a DATABASE_URL that leads to a pooler otherwise (README, Behind a connection pooler).
            """
    )

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    @Flag(help: "Neither create the roles nor grant them anything (grant by hand, README).")
    var noRoles = false

    @Option(help: "The role applications insert leads as.")
    var writerRole = DatabaseRoles.standard.writer

    @Option(help: "The role leadsync worker runs as.")
    var workerRole = DatabaseRoles.standard.worker

    @Option(help: "The role of the read-only commands (report, invalid, attempts, lead show, check).")
    var readerRole = DatabaseRoles.standard.reader

    @Option(help: "The role of the operator commands.")
    var adminRole = DatabaseRoles.standard.admin

    var roles: DatabaseRoles {
        DatabaseRoles(writer: writerRole, worker: workerRole, reader: readerRole, admin: adminRole)
    }

    func validate() throws {
        do {
            try roles.validate()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let setup = try Environment.databaseSetup()
        let logger = Environment.logger()
        let migrator = Migrator(logger: logger)
        // Through a transaction-mode pooler the session lock would be taken on one server
        // connection and released on another: a lock left behind for good.
        let (connection, refusal) = try await setup.session.open(
            logger: logger, settings: setup.pooled ? [] : DatabaseURL.plannerSettings)
        if let refusal, !status {
            try? await connection.close()
            throw CLIError(
                "DATABASE_URL (\(setup.pool)) leads to a connection pooler (it refused a startup parameter: \(refusal)): leadsync migrate holds a lock across transactions; set \(DatabaseSetup.sessionVariable) to a direct connection to PostgreSQL (README, Behind a connection pooler)"
            )
        }
        do {
            try await run(on: connection, migrator: migrator)
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func run(on connection: PostgresConnection, migrator: Migrator) async throws {
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
                let ran = try await migrator.migrate(on: connection, roles: noRoles ? nil : roles)
                for name in ran { print("applied \(name)") }
                print(ran.isEmpty ? "up to date" : "applied \(ran.count) migration(s)")
                if !noRoles { print("roles: \(roles.all.joined(separator: ", "))") }
            }
        } catch {
            throw StoreError.from(error, doing: "migrate")
        }
    }
}
