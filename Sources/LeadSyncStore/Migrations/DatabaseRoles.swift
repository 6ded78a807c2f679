import Logging
import PostgresNIO

/// docs/contract.md §1 roles, made by `leadsync migrate` (after the migrations, every run, so a
/// migration adding a table is covered next time) unless `--no-roles`. NOLOGIN group
/// roles: a deployment makes its own login roles members of them. Roles are cluster-wide,
/// so creating them tolerates another database's migrator making them at the same time.
public struct DatabaseRoles: Sendable, Equatable {
    /// INSERT into leads (and read them back), nothing else.
    public var writer: String
    /// What `leadsync worker` does; no DDL, no DELETE.
    public var worker: String
    /// SELECT for `report`, `invalid`, `attempts`, `lead show`, `check`.
    public var reader: String
    /// The operator commands: every row of every table, no DDL.
    public var admin: String

    public init(
        writer: String = "leadsync_writer", worker: String = "leadsync_worker", reader: String = "leadsync_reader",
        admin: String = "leadsync_admin"
    ) {
        self.writer = writer
        self.worker = worker
        self.reader = reader
        self.admin = admin
    }

    public static let standard = DatabaseRoles()

    public var all: [String] { [writer, worker, reader, admin] }

    /// Names go into SQL as identifiers: plain lower-case ones only, so no quoting can go wrong.
    public func validate() throws {
        for name in all {
            let ok =
                (1...63).contains(name.utf8.count)
                && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
                && !(0x30...0x39).contains(name.utf8.first!)
            guard ok else {
                throw StoreError(
                    .badArgument, "role name '\(name)' must be 1–63 of a–z, 0–9 and _, not starting with a digit")
            }
        }
        guard Set(all).count == all.count else {
            throw StoreError(.badArgument, "the four role names must differ")
        }
    }

    /// One statement per role; each makes it when missing, and a concurrent maker wins quietly.
    var createStatements: [String] {
        all.map { name in
            """
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '\(name)') THEN
                    BEGIN
                        CREATE ROLE \(name) NOLOGIN;
                    EXCEPTION WHEN duplicate_object OR unique_violation THEN
                        NULL;
                    END;
                END IF;
            END
            $$
            """
        }
    }

    /// The grants, in one transaction. The same lines, with the standard names, are in
    /// README (Security) for databases where the migrator may not create roles.
    var grantStatements: [String] {
        let everyone = all.joined(separator: ", ")
        return [
            "GRANT USAGE ON SCHEMA leadsync TO \(everyone)",
            // Writer: plain SELECT on leads, so `INSERT … RETURNING` and reading its own rows back work.
            "GRANT INSERT, SELECT ON leadsync.leads TO \(writer)",
            "GRANT USAGE ON SEQUENCE leadsync.leads_id_seq TO \(writer)",
            "GRANT SELECT ON ALL TABLES IN SCHEMA leadsync TO \(reader), \(worker), \(admin)",
            "GRANT UPDATE ON leadsync.leads, leadsync.projects TO \(worker)",
            "GRANT INSERT, UPDATE ON leadsync.submission_attempts, leadsync.phone_claims TO \(worker)",
            "GRANT INSERT ON leadsync.attempt_leads, leadsync.invalid_leads TO \(worker)",
            // A lane deletes the arrival rows it has done with (migration 0011).
            "GRANT DELETE ON leadsync.arrivals TO \(worker)",
            "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA leadsync TO \(admin)",
            // The migrator's own bookkeeping stays its own.
            "REVOKE INSERT, UPDATE, DELETE ON leadsync.schema_migrations FROM \(admin)",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA leadsync TO \(worker), \(admin)",
            "GRANT EXECUTE ON FUNCTION leadsync.compact_lead_counts() TO \(worker), \(admin)",
        ]
    }

    /// Creates the roles that are missing and (re)grants what each needs.
    public func apply(on connection: PostgresConnection, logger: Logger) async throws {
        try validate()
        for statement in createStatements {
            do {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            } catch {
                let inner = StoreError.from(error, doing: "creating the roles")
                throw StoreError(
                    .query,
                    "\(inner.message) (run leadsync migrate --no-roles where the migrator may not create roles, and grant them as README says)"
                )
            }
        }
        do {
            try await connection.withTransaction(logger: logger) { tx in
                for statement in grantStatements {
                    try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        } catch {
            throw StoreError.from(error, doing: "granting the roles' privileges")
        }
    }
}
