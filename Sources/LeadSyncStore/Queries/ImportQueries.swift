import LeadSyncCore
import PostgresNIO

/// `leadsync import` (docs/contract.md §7.5). Rows are COPYed into a temporary staging
/// table of the importing session, judged there by the CHECK constraints of
/// `leadsync.leads` themselves (read from the catalog, so every rule stays defined once, in
/// its migration), and moved into `leads` with a plain `INSERT … SELECT`, which fires the
/// table's triggers (the insert guard, `lead_counts`, projects, one NOTIFY per project)
/// exactly as an application's INSERT does. It needs only the writer's rights: INSERT and
/// SELECT on `leads`, and TEMPORARY on the database (PostgreSQL grants that to PUBLIC).
package enum ImportQueries {
    package struct RightsRow: Sendable {
        package let role: String
        package let mayInsert: Bool
        package let mayCreateTemporary: Bool
    }

    /// What the session's role may do, checked before anything is read or written.
    package static let rights = RowQuery<RightsRow>(
        """
        SELECT current_user::text, has_table_privilege('leadsync.leads', 'INSERT'),
               has_database_privilege(current_database(), 'TEMPORARY')
        """
    ) { row in
        var cells = RowCells(row)
        return RightsRow(role: try cells.next(), mayInsert: try cells.next(), mayCreateTemporary: try cells.next())
    }

    package struct RuleRow: Sendable {
        /// The constraint's name, e.g. `leads_phone_bytes`.
        package let name: String
        /// As `\d` shows it, e.g. `CHECK ((octet_length(phone) <= 64))`.
        package let definition: String
        /// The boolean expression alone, naming columns unqualified.
        package let expression: String
    }

    /// The CHECK constraints of `leads` that read only columns a writer sets: the ones an
    /// imported row can break. (The others read columns LeadSync maintains, which an
    /// import leaves to their defaults.)
    package static func rules(columns: [LeadColumn]) -> RowQuery<RuleRow> {
        RowQuery(
            """
            SELECT c.conname::text, pg_get_constraintdef(c.oid), pg_get_expr(c.conbin, c.conrelid)
            FROM pg_catalog.pg_constraint c
            WHERE c.conrelid = 'leadsync.leads'::regclass AND c.contype = 'c'
              AND NOT EXISTS (
                  SELECT 1 FROM unnest(c.conkey) AS k(attnum)
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                  WHERE a.attname <> ALL(\(columns.map(\.rawValue)))
              )
            ORDER BY c.conname
            """
        ) { row in
            var cells = RowCells(row)
            return RuleRow(name: try cells.next(), definition: try cells.next(), expression: try cells.next())
        }
    }

    package struct DefaultRow: Sendable {
        package let column: String
        package let expression: String
    }

    /// The columns' defaults (`metadata` `'{}'`, `init` true): an empty value takes them.
    package static func defaults(columns: [LeadColumn]) -> RowQuery<DefaultRow> {
        RowQuery(
            """
            SELECT a.attname::text, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = 'leadsync.leads'::regclass AND a.attname = ANY(\(columns.map(\.rawValue)))
            """
        ) { row in
            var cells = RowCells(row)
            return DefaultRow(column: try cells.next(), expression: try cells.next())
        }
    }
}

/// The statements of one import, built from the catalog's rules and defaults. The
/// expressions come from `pg_constraint` and `pg_attrdef` (written by the migrations), the
/// column names from `LeadColumn`: nothing from the file is ever spliced into SQL.
///
/// A batch is first COPYed straight into `leads`, in a transaction of its own: the table
/// judges every row itself. When a row breaks a rule that COPY fails and the batch goes the
/// long way: COPY into `leadsync_import_batch` (a temporary table, emptied at commit),
/// the rules judged there row by row, the good rows inserted with `INSERT … SELECT`. With
/// `--skip-existing` every batch goes the long way into `leadsync_import_file`, which holds
/// the whole file until the existing references are known, and is then moved into `leads`
/// a batch per transaction. Staged rows are numbered by an identity column, `idx`, in COPY
/// order: a row's position in its batch is `idx` less the batch's first `idx`.
package struct ImportStatements: Sendable {
    package static let batchTable = "leadsync_import_batch"
    package static let fileTable = "leadsync_import_file"
    /// COPY's table name is quoted whole, so the schema comes from the search path (for
    /// this transaction only; the triggers pin their own).
    package static let leadsTable = "leads"
    package static let leadsSearchPath: PostgresQuery = "SET LOCAL search_path TO leadsync"

    package let columns: [LeadColumn]
    /// The columns the file has (COPY names only these; the others stay empty).
    package let present: [LeadColumn]
    package let rules: [ImportQueries.RuleRow]
    package let defaults: [String: String]

    package init(
        columns: [LeadColumn], present: [LeadColumn], rules: [ImportQueries.RuleRow],
        defaults: [ImportQueries.DefaultRow]
    ) {
        self.columns = columns
        self.present = present
        self.rules = rules
        self.defaults = Dictionary(defaults.map { ($0.column, $0.expression) }, uniquingKeysWith: { a, _ in a })
    }

    private var names: String { columns.map(\.rawValue).joined(separator: ", ") }

    /// What COPY names, in the order each row's values are written.
    package var copyColumns: [String] { present.map(\.rawValue) }

    /// The staging tables: the columns' own types; no constraints, defaults or triggers.
    package func createTables(wholeFile: Bool) -> [PostgresQuery] {
        var statements = [
            PostgresQuery(
                unsafeSQL: """
                    CREATE TEMPORARY TABLE \(Self.batchTable) ON COMMIT DELETE ROWS
                    AS SELECT 0::bigint AS idx, \(names) FROM leadsync.leads WITH NO DATA
                    """),
            PostgresQuery(
                unsafeSQL: """
                    ALTER TABLE \(Self.batchTable)
                        ALTER COLUMN idx SET NOT NULL, ALTER COLUMN idx ADD GENERATED ALWAYS AS IDENTITY
                    """),
        ]
        if wholeFile {
            statements.append(
                PostgresQuery(unsafeSQL: "CREATE TEMPORARY TABLE \(Self.fileTable) (LIKE \(Self.batchTable))"))
        }
        return statements
    }

    package struct ViolationRow: Sendable {
        package let idx: Int64
        /// The row's place in its batch, from 0.
        package let position: Int64
        /// Indexes into `rules`.
        package let broken: [Int32]
    }

    /// The batch's rows that break a rule, with the rules each breaks. A CHECK fails only
    /// when its expression is false (null passes): `IS FALSE`, as PostgreSQL judges it.
    package var violations: RowQuery<ViolationRow>? {
        guard !rules.isEmpty else { return nil }
        let cases = rules.enumerated().map { "CASE WHEN (\($1.expression)) IS FALSE THEN \($0) END" }
        let any = rules.map { "(\($0.expression)) IS FALSE" }.joined(separator: " OR ")
        return RowQuery(
            PostgresQuery(
                unsafeSQL: """
                    SELECT idx, idx - (SELECT min(idx) FROM \(Self.batchTable)),
                           array_remove(ARRAY[\(cases.joined(separator: ", "))]::int4[], NULL)
                    FROM \(Self.batchTable) WHERE \(any)
                    """)
        ) { row in
            var cells = RowCells(row)
            return ViolationRow(idx: try cells.next(), position: try cells.next(), broken: try cells.next())
        }
    }

    /// Drops the batch's rejected rows.
    package func deleteRows(_ idx: [Int64]) -> PostgresQuery {
        "DELETE FROM \(unescaped: Self.batchTable) WHERE idx = ANY(\(idx))"
    }

    /// Moves the batch into `leads` in file order (an empty value takes the column's
    /// default); the number of leads made.
    package var insertBatch: RowQuery<Int64> { insert(from: Self.batchTable, where: "") }

    /// `--skip-existing`: keeps the judged batch for later; the range of `idx` it took.
    package var keepBatch: RowQuery<ClosedRange<Int64>?> {
        RowQuery(
            PostgresQuery(
                unsafeSQL: """
                    WITH kept AS (INSERT INTO \(Self.fileTable) SELECT * FROM \(Self.batchTable) RETURNING idx)
                    SELECT min(idx), max(idx) FROM kept
                    """)
        ) { row in
            var cells = RowCells(row)
            let (low, high) = (try cells.next(Int64?.self), try cells.next(Int64?.self))
            guard let low, let high else { return nil }
            return low...high
        }
    }

    /// `--skip-existing`, once the whole file is staged: an index and statistics for the
    /// steps below (autovacuum never analyzes temporary tables).
    package var prepareFile: [PostgresQuery] {
        [
            PostgresQuery(unsafeSQL: "CREATE INDEX ON \(Self.fileTable) (project_id, reference_id, idx)"),
            PostgresQuery(unsafeSQL: "CREATE INDEX ON \(Self.fileTable) (idx)"),
            PostgresQuery(unsafeSQL: "ANALYZE \(Self.fileTable)"),
        ]
    }

    /// `--skip-existing`: drops the staged rows whose project already has a lead with
    /// their `reference_id`, and every row but the first of the file with one; how many.
    /// One pass over `leads` for the whole file: `leads` has no index on `reference_id`
    /// (one would cost every state change of a lead with a reference an index entry;
    /// README, Importing leads).
    package var dropExisting: RowQuery<Int64> {
        RowQuery(
            PostgresQuery(
                unsafeSQL: """
                    WITH gone AS (
                        DELETE FROM \(Self.fileTable) r
                        WHERE r.reference_id IS NOT NULL AND (
                            EXISTS (SELECT 1 FROM leadsync.leads l
                                    WHERE l.project_id = r.project_id AND l.reference_id = r.reference_id)
                            OR EXISTS (SELECT 1 FROM \(Self.fileTable) o
                                       WHERE o.project_id = r.project_id AND o.reference_id = r.reference_id
                                         AND o.idx < r.idx))
                        RETURNING 1)
                    SELECT count(*) FROM gone
                    """)
        ) { row in try row.decode(Int64.self) }
    }

    /// `--skip-existing`: moves one batch of the staged file into `leads`.
    package func insertFile(_ range: ClosedRange<Int64>) -> RowQuery<Int64> {
        insert(from: Self.fileTable, where: "WHERE r.idx BETWEEN \(range.lowerBound) AND \(range.upperBound)")
    }

    private func insert(from table: String, where filter: String) -> RowQuery<Int64> {
        let values = columns.map { column in
            defaults[column.rawValue].map { "coalesce(r.\(column.rawValue), \($0))" } ?? "r.\(column.rawValue)"
        }.joined(separator: ", ")
        return RowQuery(
            PostgresQuery(
                unsafeSQL: """
                    WITH made AS (
                        INSERT INTO leadsync.leads (\(names))
                        SELECT \(values) FROM \(table) r \(filter) ORDER BY r.idx
                        RETURNING 1)
                    SELECT count(*) FROM made
                    """)
        ) { row in try row.decode(Int64.self) }
    }
}
