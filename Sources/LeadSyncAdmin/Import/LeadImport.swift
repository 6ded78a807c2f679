import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import NIOCore
import PostgresNIO

/// `leadsync import` (docs/contract.md §7.5): reads a CSV or NDJSON file and makes each
/// good row a pending lead, as an application's INSERT would; every other row goes to the
/// rejects file with its line and reason. The file is opened and its header judged before
/// anything connects, so a usage mistake costs nothing.
///
/// Rows go in batches (10,000 by default), one transaction each (ImportStatements says
/// how). While PostgreSQL works on one batch the next is parsed, so the two cores overlap.
public final class LeadImport {
    let options: ImportOptions
    private let source: any RecordSource
    private let fileSize: Int?
    /// Columns the file has whose empty value takes a default (set once connected).
    private var defaulted: [Int] = []

    public init(options: ImportOptions) throws(ImportError) {
        guard options.batchSize > 0 else { throw ImportError(.usage, "--batch-size must be positive") }
        self.options = options
        let descriptor: Int32
        let owns: Bool
        let name = options.path == "-" ? "standard input" : options.path
        if options.path == "-" {
            descriptor = STDIN_FILENO
            owns = false
            fileSize = nil
        } else {
            descriptor = open(options.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw ImportError(.usage, "cannot open \(options.path): \(String(cString: strerror(errno)))")
            }
            owns = true
            var info = stat()
            if fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                closeFile(descriptor)
                throw ImportError(.usage, "\(options.path) is a directory")
            }
            fileSize = (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
        }
        switch options.resolvedFormat {
        case .csv:
            let stream = CheckedInputStream(
                descriptor: descriptor, ownsDescriptor: owns, maxLineBytes: ImportOptions.maxLineBytes)
            source = try CSVRecordSource(
                stream: stream, name: name, mappings: options.mappings, project: options.project)
        case .ndjson:
            let reader = LineReader(
                descriptor: descriptor, ownsDescriptor: owns, maxLineBytes: ImportOptions.maxLineBytes)
            source = NDJSONRecordSource(reader: reader, mappings: options.mappings, project: options.project)
        }
    }

    /// Imports the file on `connection`; `progress` is called between batches.
    public func run(
        on connection: PostgresConnection, logger: Logger, progress: ((ImportProgress) -> Void)? = nil
    ) async throws -> ImportSummary {
        let statements = try await prepare(on: connection, logger: logger)
        let rejects = try RejectsFile(path: options.resolvedRejectsPath)
        let loader = BatchLoader(
            connection: connection, logger: logger, statements: statements, wholeFile: options.skipExisting)
        let clock = ContinuousClock()
        let started = clock.now
        var summary = ImportSummary()
        summary.rejectsPath = rejects.path
        var lastLine = 0
        var staged: [ClosedRange<Int64>] = []

        func report(_ phase: ImportProgress.Phase) {
            guard let progress else { return }
            let fraction = fileSize.map { $0 > 0 ? Double(source.bytesRead) / Double($0) : 1 }
            progress(
                ImportProgress(
                    phase: phase, rows: summary.rows, imported: summary.imported,
                    rejected: rejects.count, seconds: (clock.now - started).secondsValue, fraction: fraction))
        }

        do {
            var next = try readBatch(rejects: rejects, summary: &summary)
            while let batch = next {
                async let loading = loader.load(batch)
                // Parse the next batch while PostgreSQL takes this one.
                next = try readBatch(rejects: rejects, summary: &summary)
                let outcome = try await loading
                for rejected in outcome.rejected {
                    try rejects.add(line: rejected.line, rejected.why, rejected.original)
                }
                summary.imported += outcome.imported
                if let range = outcome.kept { staged.append(range) }
                lastLine = batch.lines.last ?? lastLine
                report(options.skipExisting ? .staging : .importing)
            }
            if options.skipExisting {
                report(.skipping)
                summary.skipped = try await loader.dropExisting()
                for range in staged {
                    summary.imported += try await loader.insertStaged(range)
                    report(.loading)
                }
            }
        } catch {
            try? rejects.finish()
            summary.rejected = rejects.count
            summary.seconds = (clock.now - started).secondsValue
            let resume =
                summary.imported > 0
                ? "; rerun with --skip-existing to import the rest without duplicating the \(summary.imported) leads already imported"
                : ""
            throw ImportError(
                .failed,
                "import stopped after \(summary.imported) leads (line \(lastLine) was the last fully read): \(Self.describe(error))\(resume)"
            )
        }
        try rejects.finish()
        summary.rejected = rejects.count
        summary.rejectedByCode = rejects.byCode
        summary.seconds = (clock.now - started).secondsValue
        return summary
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? ImportError { return error.description }
        return StoreError.from(error, doing: "importing").description
    }

    /// Checks the role's rights, reads the rules from the catalog, makes the staging tables.
    private func prepare(on connection: PostgresConnection, logger: Logger) async throws -> ImportStatements {
        guard let rights = try await connection.firstRow(ImportQueries.rights, logger: logger) else {
            throw ImportError(.failed, "could not read the role's rights")
        }
        guard rights.mayInsert else {
            throw ImportError(
                .usage,
                "role \(rights.role) may not INSERT into leadsync.leads: import runs as a member of leadsync_writer (README, Security)"
            )
        }
        guard rights.mayCreateTemporary else {
            throw ImportError(
                .usage,
                "role \(rights.role) may not create temporary tables in this database, where import stages rows: GRANT TEMPORARY ON DATABASE … TO leadsync_writer (PostgreSQL grants it to PUBLIC by default)"
            )
        }
        let columns = ImportValue.columns
        let rules = try await connection.rows(ImportQueries.rules(columns: columns), logger: logger)
        let defaults = try await connection.rows(ImportQueries.defaults(columns: columns), logger: logger)
        let statements = ImportStatements(
            columns: columns, present: source.columns.map { columns[$0] }, rules: rules, defaults: defaults)
        defaulted = source.columns.filter { index in defaults.contains { $0.column == columns[index].rawValue } }
        for statement in statements.createTables(wholeFile: options.skipExisting) {
            try await connection.query(statement, logger: logger)
        }
        return statements
    }

    /// The next batch of rows, encoded for COPY; the rows the file itself spoils go
    /// straight to the rejects file. nil at the end of the file.
    private func readBatch(rejects: RejectsFile, summary: inout ImportSummary) throws(ImportError) -> EncodedBatch? {
        var batch = EncodedBatch(capacity: options.batchSize, columns: source.columns, defaulted: defaulted)
        while batch.count < options.batchSize, let item = try source.next() {
            switch item {
            case .blank:
                continue
            case .rejected(let line, let why, let original):
                summary.rows += 1
                try rejects.add(line: line, why, original)
            case .row(let row):
                summary.rows += 1
                if !batch.append(row) {
                    try rejects.add(
                        line: row.line,
                        ImportRejection("nul", "a value holds a NUL character, which PostgreSQL text cannot store"),
                        row.original)
                }
            }
        }
        return batch.count == 0 ? nil : batch
    }
}

/// A batch in COPY's text format, with where each row ends, so a row PostgreSQL refuses can
/// be cut out and the rest sent again.
struct EncodedBatch: Sendable {
    var buffer: ByteBuffer
    var ends: [Int] = []
    var lines: [Int] = []
    var originals: [ImportOriginal] = []
    /// The columns written (indexes into `LeadColumn.allCases`).
    let columns: [Int]
    let defaulted: [Int]
    /// A row leaves a column with a default empty: COPY straight into `leads` would store
    /// NULL there, not the default, so the batch goes through the staging table.
    private(set) var needsDefaults = false

    init(capacity: Int, columns: [Int], defaulted: [Int]) {
        buffer = ByteBufferAllocator().buffer(capacity: min(capacity, 10_000) * 128)
        ends.reserveCapacity(capacity)
        lines.reserveCapacity(capacity)
        originals.reserveCapacity(capacity)
        self.columns = columns
        self.defaulted = defaulted
    }

    var count: Int { lines.count }

    mutating func append(_ row: ImportRow) -> Bool {
        guard CopyText.append(row.values, columns: columns, to: &buffer) else { return false }
        ends.append(buffer.writerIndex)
        lines.append(row.line)
        originals.append(row.original)
        if !needsDefaults { needsDefaults = defaulted.contains { row.values[$0] == nil } }
        return true
    }

    /// The batch without its `index`th row.
    func without(_ index: Int) -> EncodedBatch {
        var copy = self
        let start = index == 0 ? 0 : ends[index - 1]
        let length = ends[index] - start
        var rebuilt = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        rebuilt.writeImmutableBuffer(buffer.getSlice(at: 0, length: start)!)
        rebuilt.writeImmutableBuffer(buffer.getSlice(at: ends[index], length: buffer.writerIndex - ends[index])!)
        copy.buffer = rebuilt
        copy.ends = Array(ends[..<index]) + ends[(index + 1)...].map { $0 - length }
        copy.lines.remove(at: index)
        copy.originals.remove(at: index)
        return copy
    }
}

/// One batch's fate in the database.
struct BatchOutcome: Sendable {
    struct Rejected: Sendable {
        let line: Int
        let why: ImportRejection
        let original: ImportOriginal
    }

    var imported = 0
    var rejected: [Rejected] = []
    /// `--skip-existing`: where the batch's rows wait in the file table.
    var kept: ClosedRange<Int64>?
}

/// The database side of an import: one connection, used by one batch at a time.
struct BatchLoader: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    let statements: ImportStatements
    /// `--skip-existing`: batches are kept in the file table until the whole file is in.
    let wholeFile: Bool

    /// One batch, in one transaction: straight into `leads` when it can, else through the
    /// staging table (ImportStatements).
    func load(_ batch: EncodedBatch) async throws -> BatchOutcome {
        if !wholeFile && !batch.needsDefaults {
            do {
                try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query(ImportStatements.leadsSearchPath, logger: logger)
                    try await connection.copyFrom(
                        table: ImportStatements.leadsTable, columns: statements.copyColumns, logger: logger
                    ) { writer in
                        try await writer.write(batch.buffer)
                    }
                }
                return BatchOutcome(imported: batch.count)
            } catch {
                // A row broke a rule or could not be read: the long way finds which.
                guard Self.rowRefused(error, table: ImportStatements.leadsTable) != nil else { throw error }
            }
        }
        return try await staged(batch)
    }

    /// COPYs the batch into the staging table, judges it, and inserts (or keeps) the good
    /// rows, in one transaction. A row COPY itself refuses (a value PostgreSQL cannot read,
    /// which the checks before should have caught) is rejected with PostgreSQL's message
    /// and the batch sent again without it.
    private func staged(_ batch: EncodedBatch) async throws -> BatchOutcome {
        var batch = batch
        var outcome = BatchOutcome()
        while batch.count > 0 {
            do {
                let sent = batch
                let (violations, inserted, kept) = try await connection.withTransaction(logger: logger) {
                    connection -> ([ImportStatements.ViolationRow], Int64, ClosedRange<Int64>?) in
                    try await connection.copyFrom(
                        table: ImportStatements.batchTable, columns: statements.copyColumns, logger: logger
                    ) { writer in
                        try await writer.write(sent.buffer)
                    }
                    var violations: [ImportStatements.ViolationRow] = []
                    if let query = statements.violations {
                        violations = try await connection.rows(query, logger: logger)
                        if !violations.isEmpty {
                            try await connection.query(statements.deleteRows(violations.map(\.idx)), logger: logger)
                        }
                    }
                    if wholeFile {
                        let kept = try await connection.firstRow(statements.keepBatch, logger: logger) ?? nil
                        return (violations, 0, kept)
                    }
                    let inserted = try await connection.firstRow(statements.insertBatch, logger: logger) ?? 0
                    return (violations, inserted, nil)
                }
                for violation in violations {
                    let row = Int(violation.position)
                    guard row >= 0 && row < batch.count else { continue }
                    let broken = violation.broken.map { statements.rules[Int($0)] }
                    let why = ImportRejection(
                        broken[0].name,
                        "violates " + broken.map { "\($0.name): \($0.definition)" }.joined(separator: "; "))
                    outcome.rejected.append(.init(line: batch.lines[row], why: why, original: batch.originals[row]))
                }
                outcome.imported += Int(inserted)
                outcome.kept = kept
                return outcome
            } catch {
                guard let (row, message) = Self.rowRefused(error, table: ImportStatements.batchTable),
                    row < batch.count
                else { throw error }
                outcome.rejected.append(
                    .init(
                        line: batch.lines[row], why: ImportRejection("refused", message), original: batch.originals[row]
                    ))
                batch = batch.without(row)
            }
        }
        return outcome
    }

    /// `--skip-existing`, once the file is staged: drops rows already imported; how many.
    func dropExisting() async throws -> Int {
        for statement in statements.prepareFile { try await connection.query(statement, logger: logger) }
        return Int(try await connection.firstRow(statements.dropExisting, logger: logger) ?? 0)
    }

    /// `--skip-existing`: one batch's staged rows into `leads`, in a transaction of its own.
    func insertStaged(_ range: ClosedRange<Int64>) async throws -> Int {
        let query = statements.insertFile(range)
        return try await connection.withTransaction(logger: logger) { connection in
            Int(try await connection.firstRow(query, logger: logger) ?? 0)
        }
    }

    /// The batch row a failed COPY into `table` names ("COPY leads, line 3, column init:
    /// …": COPY counts from 1) and PostgreSQL's message, when the row's data was at fault
    /// (a data exception, class 22, or a broken constraint, class 23).
    static func rowRefused(_ error: any Error, table: String) -> (Int, String)? {
        var error = error
        if let transaction = error as? PostgresTransactionError, let inner = transaction.closureError {
            error = inner
        }
        guard let psql = error as? PSQLError, let state = psql.sqlState,
            state.hasPrefix("22") || state.hasPrefix("23"),
            let context = psql.serverInfo?[.locationContext],
            let copy = context.range(of: "COPY \(table), line ")
        else { return nil }
        let digits = context[copy.upperBound...].prefix { $0.isNumber }
        guard let line = Int(digits), line >= 1 else { return nil }
        let message = psql.serverInfo?[.message] ?? "refused by PostgreSQL"
        return (line - 1, "PostgreSQL refused it: \(message)")
    }
}
