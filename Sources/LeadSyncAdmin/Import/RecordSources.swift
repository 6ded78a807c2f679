import CSV
import Foundation
import LeadSyncCore
import WireJSON

/// What a file yields, record by record.
enum SourceItem {
    case row(ImportRow)
    case rejected(line: Int, ImportRejection, ImportOriginal)
    /// An empty line: no record.
    case blank
}

/// Where rows come from: a CSV or NDJSON file, read once, front to back.
protocol RecordSource: AnyObject {
    func next() throws(ImportError) -> SourceItem?
    /// The columns the file can fill (indexes into `LeadColumn.allCases`, ascending).
    var columns: [Int] { get }
    /// Bytes taken from the file so far.
    var bytesRead: Int { get }
}

/// Line numbers the stream noted, looked up record by record (records only move forward).
private struct LineFlags {
    var cursor = 0

    mutating func first(in lines: ClosedRange<Int>, of flagged: [Int]) -> Int? {
        while cursor < flagged.count && flagged[cursor] < lines.lowerBound { cursor += 1 }
        guard cursor < flagged.count, flagged[cursor] <= lines.upperBound else { return nil }
        return flagged[cursor]
    }
}

/// RFC 4180 CSV through yaslab/CSV.swift (streaming; README, Importing leads, says why).
/// The first record is the header; each header names a column of `leadsync.leads`, or is
/// renamed to one by `--map`.
final class CSVRecordSource: RecordSource {
    private let stream: CheckedInputStream
    private let reader: CSVReader
    let header: [String]
    /// For each field of a record: its column's index in `LeadColumn.allCases`.
    private let targets: [Int]
    private let project: String?
    private var nextLine: Int
    private var invalidFlags = LineFlags()
    private var longFlags = LineFlags()

    init(stream: CheckedInputStream, name: String, mappings: [String: LeadColumn], project: String?)
        throws(ImportError)
    {
        self.stream = stream
        self.project = project
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true)
        } catch {
            if let failure = stream.streamError { throw ImportError(.usage, "cannot read \(name): \(failure)") }
            throw ImportError(.usage, "\(name) is empty: a CSV file starts with a header line naming the columns")
        }
        header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
        let headerLines = 1 + header.reduce(0) { $0 + Self.lineBreaks(in: $1) }
        nextLine = headerLines + 1
        if stream.invalidUTF8Lines.first.map({ $0 <= headerLines }) == true {
            throw ImportError(.usage, "the header line of \(name) is not valid UTF-8 (save the file as UTF-8)")
        }
        if stream.longLines.first.map({ $0 <= headerLines }) == true {
            throw ImportError(.usage, "the header line of \(name) is longer than \(stream.maxLineBytes) bytes")
        }
        for source in mappings.keys where !header.contains(source) {
            throw ImportError(.usage, "--map \(source)=…: \(name) has no column named '\(source)'")
        }
        var targets: [Int] = []
        for field in header {
            guard let column = mappings[field] ?? LeadColumn(rawValue: field) else {
                throw ImportError(
                    .usage,
                    "column '\(field)' of \(name) is not a lead column (\(ImportOptions.columnList)); rename it with --map '\(field)=COLUMN'"
                )
            }
            let index = ImportValue.columns.firstIndex(of: column)!
            if targets.contains(index) {
                throw ImportError(.usage, "\(name) has two columns for \(column.rawValue)")
            }
            targets.append(index)
        }
        if !targets.contains(ImportValue.projectIndex) && project == nil {
            throw ImportError(
                .usage,
                "\(name) has no project_id column: give the project with --project ID (or --map HEADER=project_id)")
        }
        self.targets = targets
        columns = Set(targets + (project == nil ? [] : [ImportValue.projectIndex])).sorted()
    }

    let columns: [Int]
    var bytesRead: Int { stream.bytesRead }

    func next() throws(ImportError) -> SourceItem? {
        guard let fields = reader.next() else {
            if let failure = reader.error ?? stream.streamError {
                throw ImportError(.failed, "reading the file stopped at line \(nextLine): \(failure)")
            }
            return nil
        }
        let start = nextLine
        let breaks = fields.reduce(0) { $0 + Self.lineBreaks(in: $1) }
        nextLine = start + breaks + 1
        let lines = start...(start + breaks)
        if fields.count == 1 && fields[0].isEmpty && header.count > 1 { return .blank }
        let original = ImportOriginal.fields(fields)
        if let bad = invalidFlags.first(in: lines, of: stream.invalidUTF8Lines) {
            return .rejected(
                line: start, ImportRejection("invalid_utf8", "line \(bad) is not valid UTF-8"), original)
        }
        if let long = longFlags.first(in: lines, of: stream.longLines) {
            return .rejected(
                line: start,
                ImportRejection("long_line", "line \(long) is longer than \(stream.maxLineBytes) bytes"), original)
        }
        guard fields.count == header.count else {
            return .rejected(
                line: start,
                ImportRejection(
                    "column_count",
                    "\(fields.count) field\(fields.count == 1 ? "" : "s"); the header has \(header.count)"),
                original)
        }
        var values = [String?](repeating: nil, count: ImportValue.columns.count)
        for (field, target) in zip(fields, targets) {
            switch ImportValue.fromText(field, for: ImportValue.columns[target]) {
            case .success(let value): values[target] = value
            case .failure(let rejection): return .rejected(line: start, rejection, original)
            }
        }
        if values[ImportValue.projectIndex] == nil { values[ImportValue.projectIndex] = project }
        return .row(ImportRow(line: start, values: values, original: original))
    }

    /// Line breaks inside a (quoted) field, counted as the reader ends rows: CRLF, LF, CR.
    static func lineBreaks(in field: String) -> Int {
        var count = 0
        var afterCR = false
        for byte in field.utf8 {
            switch byte {
            case 0x0D:
                count += 1
                afterCR = true
            case 0x0A:
                if !afterCR { count += 1 }
                afterCR = false
            default:
                afterCR = false
            }
        }
        return count
    }
}

/// NDJSON: one JSON object per line, its keys naming columns (or renamed by `--map`), read
/// with WireJSON (Foundation's JSON is several times slower here).
final class NDJSONRecordSource: RecordSource {
    private let reader: LineReader
    private let mappings: [String: LeadColumn]
    private let project: String?

    init(reader: LineReader, mappings: [String: LeadColumn], project: String?) {
        self.reader = reader
        self.mappings = mappings
        self.project = project
    }

    var bytesRead: Int { reader.bytesRead }
    /// Keys vary from line to line: every column.
    let columns = Array(ImportValue.columns.indices)

    func next() throws(ImportError) -> SourceItem? {
        guard let (line, bytes, tooLong) = try reader.next() else { return nil }
        if tooLong {
            return .rejected(
                line: line, ImportRejection("long_line", "line \(line) is longer than \(reader.maxLineBytes) bytes"),
                .text(String(decoding: bytes.prefix(200), as: UTF8.self) + "…"))
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return .blank }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .rejected(
                line: line, ImportRejection("invalid_utf8", "line \(line) is not valid UTF-8"),
                .text(String(decoding: bytes, as: UTF8.self)))
        }
        let original = ImportOriginal.text(text)
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            return .rejected(line: line, ImportRejection("bad_line", "not valid JSON (\(error))"), original)
        }
        guard case .object(let members) = document else {
            return .rejected(line: line, ImportRejection("bad_line", "not a JSON object"), original)
        }
        var values = [String?](repeating: nil, count: ImportValue.columns.count)
        var seen = [Bool](repeating: false, count: ImportValue.columns.count)
        for (key, value) in members {
            guard let column = mappings[key] ?? LeadColumn(rawValue: key) else {
                return .rejected(
                    line: line,
                    ImportRejection(
                        "unknown_column",
                        "'\(key)' is not a lead column (\(ImportOptions.columnList)); rename it with --map '\(key)=COLUMN'"
                    ),
                    original)
            }
            let index = ImportValue.columns.firstIndex(of: column)!
            if seen[index] {
                return .rejected(
                    line: line, ImportRejection("bad_line", "\(column.rawValue) is given twice"), original)
            }
            seen[index] = true
            switch ImportValue.fromJSON(value, for: column) {
            case .success(let text): values[index] = text
            case .failure(let rejection): return .rejected(line: line, rejection, original)
            }
        }
        if values[ImportValue.projectIndex] == nil { values[ImportValue.projectIndex] = project }
        return .row(ImportRow(line: line, values: values, original: original))
    }
}

/// Lines of a file, read in large chunks; a line over `maxLineBytes` is not kept whole
/// (only its first bytes, for the rejects file), so memory stays bounded.
final class LineReader {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    let maxLineBytes: Int
    private var chunk: [UInt8]
    private var start = 0
    private var end = 0
    private var ended = false
    private var number = 0
    private(set) var bytesRead = 0

    init(descriptor: Int32, ownsDescriptor: Bool, maxLineBytes: Int, chunkSize: Int = 1 << 20) {
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.maxLineBytes = maxLineBytes
        self.chunk = [UInt8](repeating: 0, count: chunkSize)
    }

    deinit {
        if ownsDescriptor { closeFile(descriptor) }
    }

    /// The next line without its line break (LF or CRLF); a UTF-8 byte order mark at the
    /// start of the file is dropped.
    func next() throws(ImportError) -> (line: Int, bytes: [UInt8], tooLong: Bool)? {
        var line: [UInt8] = []
        var tooLong = false
        var any = false
        while true {
            if start == end {
                if ended { break }
                try refill()
                continue
            }
            any = true
            let newline = chunk[start..<end].firstIndex(of: 0x0A)
            let piece = chunk[start..<(newline ?? end)]
            if line.count + piece.count > maxLineBytes {
                tooLong = true
                line.append(contentsOf: piece.prefix(max(0, maxLineBytes - line.count)))
            } else {
                line.append(contentsOf: piece)
            }
            if let newline {
                start = newline + 1
                break
            }
            start = end
        }
        guard any else { return nil }
        number += 1
        if line.last == 0x0D { line.removeLast() }
        if number == 1 && line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        return (number, line, tooLong)
    }

    private func refill() throws(ImportError) {
        let count = chunk.withUnsafeMutableBytes { readFile(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { return }
            throw ImportError(
                .failed, "reading the file stopped after line \(number): \(String(cString: strerror(errno)))")
        }
        start = 0
        end = count
        bytesRead += count
        if count == 0 { ended = true }
    }
}
