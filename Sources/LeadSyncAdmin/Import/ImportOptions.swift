import Foundation
import LeadSyncCore

/// `leadsync import FILE …` (docs/contract.md §7.5).
public struct ImportOptions: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case csv, ndjson
    }

    /// The file, or `-` for standard input.
    public var path: String
    /// nil: from the file's extension (`.ndjson`, `.jsonl` are NDJSON, anything else CSV).
    public var format: Format?
    /// The project of rows that name none.
    public var project: String?
    /// A file's header (CSV) or key (NDJSON) → the column it fills.
    public var mappings: [String: LeadColumn]
    /// nil: `FILE.rejects.csv` (`leadsync-import.rejects.csv` for standard input).
    public var rejectsPath: String?
    public var skipExisting: Bool
    /// Rows per COPY and per transaction.
    public var batchSize: Int

    /// A line longer than this is rejected: the largest lead the table takes is a few KB
    /// of text plus metadata, which the worker sends only up to 16 KiB (docs/contract.md §3.4).
    public static let maxLineBytes = 1 << 20

    public init(
        path: String, format: Format? = nil, project: String? = nil, mappings: [String: LeadColumn] = [:],
        rejectsPath: String? = nil, skipExisting: Bool = false, batchSize: Int = 10_000
    ) {
        self.path = path
        self.format = format
        self.project = project
        self.mappings = mappings
        self.rejectsPath = rejectsPath
        self.skipExisting = skipExisting
        self.batchSize = batchSize
    }

    /// `--map header=column`, checked: the column must be one a writer sets.
    public static func mapping(_ argument: String) -> (String, LeadColumn)? {
        guard let equals = argument.firstIndex(of: "=") else { return nil }
        let header = String(argument[..<equals])
        guard !header.isEmpty, let column = LeadColumn(rawValue: String(argument[argument.index(after: equals)...]))
        else { return nil }
        return (header, column)
    }

    public var resolvedFormat: Format {
        if let format { return format }
        let lower = path.lowercased()
        return lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") ? .ndjson : .csv
    }

    public var resolvedRejectsPath: String {
        rejectsPath ?? (path == "-" ? "leadsync-import.rejects.csv" : path + ".rejects.csv")
    }

    static let columnList = LeadColumn.allCases.map(\.rawValue).joined(separator: ", ")
}

/// Why an import did not run or did not finish. `usage`: nothing was imported (exit 2);
/// `rejected`: rows were rejected (exit 1); `failed`: stopped part-way (exit 1).
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable { case usage, rejected, failed }

    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// What an import did.
public struct ImportSummary: Sendable, Equatable {
    /// Records read (blank lines are none).
    public var rows = 0
    public var imported = 0
    public var rejected = 0
    /// `--skip-existing`: rows whose reference was already there.
    public var skipped = 0
    public var seconds = 0.0
    public var rejectsPath: String?
    public var rejectedByCode: [String: Int] = [:]

    public var rowsPerSecond: Int { seconds > 0 ? Int(Double(rows) / seconds) : 0 }

    public var line: String {
        var text =
            "imported \(imported) of \(rows) row\(rows == 1 ? "" : "s") into leadsync.leads in \(String(format: "%.1f", seconds)) s (\(rowsPerSecond) rows/s)"
        if skipped > 0 { text += "; \(skipped) skipped (reference_id already there)" }
        if rejected > 0 {
            let codes = rejectedByCode.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            text += "; \(rejected) rejected (\(codes)), listed in \(rejectsPath ?? "the rejects file")"
        }
        return text
    }
}

/// What the progress line shows.
public struct ImportProgress: Sendable {
    public enum Phase: String, Sendable { case importing, staging, skipping = "checking references", loading }
    public var phase: Phase
    public var rows: Int
    public var imported: Int
    public var rejected: Int
    public var seconds: Double
    /// Share of the file read, when its size is known.
    public var fraction: Double?

    public var line: String {
        let rate = seconds > 0 ? Int(Double(rows) / seconds) : 0
        var text = "\(phase.rawValue): \(rows) rows read, \(imported) imported, \(rejected) rejected, \(rate) rows/s"
        if let fraction, fraction > 0, fraction < 1, phase != .loading {
            let eta = Int((seconds * (1 - fraction) / fraction).rounded())
            text += ", \(Int(fraction * 100)) %, ETA \(eta / 60):\(String(format: "%02d", eta % 60))"
        }
        return text
    }
}
