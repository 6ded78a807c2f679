import LeadSyncCore
import NIOCore
import WireJSON

/// A record of the file as it was, for the rejects file.
enum ImportOriginal: Sendable {
    /// A CSV record's fields.
    case fields([String])
    /// An NDJSON line (invalid UTF-8 shown as U+FFFD).
    case text(String)

    var text: String {
        switch self {
        case .fields(let fields): return RejectsFile.csvLine(fields)
        case .text(let text): return text
        }
    }
}

/// Why a row was not imported: a short code (counted in the summary) and a message.
public struct ImportRejection: Error, Sendable, Equatable {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// One record of the file: its values in `LeadColumn.allCases` order (nil = empty, the
/// column's default), or why it cannot be imported.
struct ImportRow: Sendable {
    /// The physical line the record starts on (1-based).
    let line: Int
    let values: [String?]
    let original: ImportOriginal
}

/// What turns a file's text into column values; the rules a lead must pass are the
/// table's CHECK constraints, judged by PostgreSQL (ImportQueries). Here only what
/// PostgreSQL could not even store: text that is not a boolean or not JSON.
enum ImportValue {
    static let columns = LeadColumn.allCases
    static let projectIndex = columns.firstIndex(of: .projectId)!

    /// A text cell (a CSV field, or an NDJSON string) as the column's value.
    static func fromText(_ text: String, for column: LeadColumn) -> Result<String?, ImportRejection> {
        if text.isEmpty { return .success(nil) }
        switch column.kind {
        case .text:
            return .success(text)
        case .boolean:
            guard let value = boolean(text) else {
                return .failure(
                    ImportRejection("bad_value", "\(column.rawValue) must be true or false, not \(quoted(text))"))
            }
            return .success(value ? "t" : "f")
        case .json:
            let parsed: JSONValue
            do {
                parsed = try JSONParser.parse(text)
            } catch {
                return .failure(ImportRejection("bad_json", "\(column.rawValue) is not valid JSON (\(error))"))
            }
            if let problem = unstorable(parsed) {
                return .failure(ImportRejection("bad_json", "\(column.rawValue): \(problem)"))
            }
            return .success(text)
        }
    }

    /// An NDJSON member's value as the column's value.
    static func fromJSON(_ value: JSONValue, for column: LeadColumn) -> Result<String?, ImportRejection> {
        switch (column.kind, value) {
        case (_, .null): return .success(nil)
        case (.json, _):
            if let problem = unstorable(value) {
                return .failure(ImportRejection("bad_json", "\(column.rawValue): \(problem)"))
            }
            return .success(value.jsonString)
        case (.boolean, .bool(let flag)): return .success(flag ? "t" : "f")
        case (.boolean, .string(let text)), (.text, .string(let text)): return fromText(text, for: column)
        case (.text, .number(let digits)): return .success(digits)
        default:
            return .failure(
                ImportRejection(
                    "bad_value", "\(column.rawValue) must be \(column.kind == .boolean ? "true or false" : "a string")")
            )
        }
    }

    /// PostgreSQL's spellings of a boolean, as `boolin` reads them.
    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "t", "true", "y", "yes", "on", "1": return true
        case "f", "false", "n", "no", "off", "0": return false
        default: return nil
        }
    }

    /// jsonb refuses `\u0000` (its text cannot hold NUL); anything else WireJSON reads it stores.
    private static func unstorable(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text.utf8.contains(0) ? "\\u0000 cannot be stored in jsonb" : nil
        case .array(let items): return items.lazy.compactMap(unstorable).first
        case .object(let members):
            for (key, item) in members {
                if key.utf8.contains(0) { return "\\u0000 cannot be stored in jsonb" }
                if let problem = unstorable(item) { return problem }
            }
            return nil
        default: return nil
        }
    }

    static func quoted(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return "'\(cut)'"
    }
}

/// COPY's text format (PostgreSQL docs, COPY, "Text Format"): tab-separated, `\N` for
/// null, backslash escapes for backslash, tab, newline and carriage return.
enum CopyText {
    /// Appends one row; false (and nothing appended) when a value holds a NUL, which no
    /// PostgreSQL text can.
    static func append(_ values: [String?], columns: [Int], to buffer: inout ByteBuffer) -> Bool {
        let start = buffer.writerIndex
        for (n, column) in columns.enumerated() {
            if n > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
            guard let value = values[column] else {
                buffer.writeStaticString("\\N")
                continue
            }
            var text = value
            let ok = text.withUTF8 { write($0, to: &buffer) }
            if !ok {
                buffer.moveWriterIndex(to: start)
                return false
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
        return true
    }

    private static func write(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout ByteBuffer) -> Bool {
        var plain = true
        for byte in bytes where byte <= 0x5C {
            if byte == 0x5C || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0 {
                plain = false
                break
            }
        }
        if plain {
            buffer.writeBytes(bytes)
            return true
        }
        for byte in bytes {
            switch byte {
            case 0: return false
            case 0x5C: buffer.writeStaticString("\\\\")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
        return true
    }
}
