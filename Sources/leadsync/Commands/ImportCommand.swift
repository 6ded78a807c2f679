import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncCore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load leads from a CSV or NDJSON file; rows that cannot be leads go to a rejects file.",
        discussion: """
            Runs as a member of leadsync_writer (README, Security): it needs INSERT on
            leadsync.leads and TEMPORARY on the database, nothing else.

            CSV (RFC 4180) starts with a header line; each header names a column of
            leadsync.leads (\(LeadColumn.allCases.map(\.rawValue).joined(separator: ", "))),
            or --map renames it. NDJSON (.ndjson, .jsonl) holds one JSON object per line,
            its keys naming columns. An empty value takes the column's default. Each row must
            pass the table's own constraints, as an INSERT would.

            Rows go in batches of 10,000, one transaction each. Rows that cannot be imported
            (unknown columns, bad JSON, a value over its byte bound, invalid UTF-8, a wrong
            number of fields, …) are written to the rejects file (default FILE.rejects.csv)
            with their line and reason. An interrupted import is resumed by running it again
            with --skip-existing: rows whose reference_id the project already has are skipped.

            Exit codes: 0 every row imported (or skipped), 1 some rows rejected or the import
            stopped part-way, 2 usage (bad flags, unreadable file or header, missing rights).

            Examples:
              leadsync import leads.csv --project acme
              leadsync import export.csv --map Mobile=phone --map "Customer ID=reference_id"
              leadsync import leads.ndjson --rejects /tmp/rejected.csv
              leadsync import leads.csv --skip-existing      # resume after an interruption
            """
    )

    @Argument(help: "The file (.csv, or .ndjson/.jsonl), or - for standard input.")
    var file: String

    @Option(help: "The project of rows that name none.")
    var project: String?

    @Option(help: "Map a file header (or NDJSON key) to a lead column: header=column (repeatable).")
    var map: [String] = []

    @Option(help: "Where rejected rows go (default FILE.rejects.csv).")
    var rejects: String?

    @Flag(help: "Skip rows whose reference_id their project already has (to resume an interrupted import).")
    var skipExisting = false

    @Option(help: "File format: csv or ndjson (default: by the file's extension).")
    var format: ImportOptions.Format?

    @Option(help: .hidden)
    var batchSize: Int = 10_000

    func run() async throws {
        var mappings: [String: LeadColumn] = [:]
        for argument in map {
            guard let (header, column) = ImportOptions.mapping(argument) else {
                throw ImportError(
                    .usage,
                    "--map \(argument): expected header=column, column one of \(LeadColumn.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            guard mappings.updateValue(column, forKey: header) == nil else {
                throw ImportError(.usage, "--map names \(header) twice")
            }
        }
        if let project, project.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ImportError(.usage, "--project must not be empty")
        }
        let options = ImportOptions(
            path: file, format: format, project: project, mappings: mappings, rejectsPath: rejects,
            skipExisting: skipExisting, batchSize: batchSize)
        // The file and its header are judged before connecting.
        let importer = try LeadImport(options: options)
        let progress = ImportProgressLine(enabled: isatty(STDERR_FILENO) == 1)
        let summary = try await Admin.withConnection(doing: "import") { connection, logger in
            defer { progress.finish() }
            return try await importer.run(on: connection, logger: logger) { progress.show($0) }
        }
        print(summary.line)
        if summary.rejected > 0 {
            throw ImportError(
                .rejected,
                "\(summary.rejected) row\(summary.rejected == 1 ? "" : "s") rejected; their lines and reasons are in \(summary.rejectsPath ?? "the rejects file")"
            )
        }
    }
}

extension ImportOptions.Format: ExpressibleByArgument {}

/// On a terminal: one progress line on stderr, rewritten at most four times a second.
final class ImportProgressLine {
    let enabled: Bool
    private var last = ContinuousClock.now - .seconds(1)

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: ImportProgress) {
        guard enabled, ContinuousClock.now - last >= .milliseconds(250) else { return }
        last = .now
        FileHandle.standardError.write(Data("\r\u{1B}[K\(progress.line)".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
