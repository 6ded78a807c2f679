import Foundation

/// `--rejects FILE`: every row not imported, as RFC 4180 CSV `line,code,reason,record`,
/// where `record` is the row as the file had it (a CSV record's fields joined again, or the
/// NDJSON line). Created (emptied) when the import starts, removed at the end when nothing
/// was rejected, so it never describes an earlier run. Cells are written as they are (no
/// formula guard): the file is for fixing and importing again.
final class RejectsFile {
    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var count = 0
    private(set) var byCode: [String: Int] = [:]

    init(path: String) throws(ImportError) {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw ImportError(.usage, "cannot write the rejects file \(path)")
        }
        self.handle = handle
        buffer.append(contentsOf: Array("line,code,reason,record\r\n".utf8))
    }

    func add(line: Int, _ rejection: ImportRejection, _ original: ImportOriginal) throws(ImportError) {
        count += 1
        byCode[rejection.code, default: 0] += 1
        buffer.append(
            contentsOf: Array(
                (Self.csvLine([String(line), rejection.code, rejection.message, original.text]) + "\r\n").utf8))
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws(ImportError) {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw ImportError(.failed, "cannot write the rejects file \(path): \(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is left and closes; removes the file when nothing was rejected.
    func finish() throws(ImportError) {
        try flush()
        try? handle.close()
        if count == 0 { try? FileManager.default.removeItem(atPath: path) }
    }

    /// One CSV record (without its line break): a field holding a comma, a quote, CR or LF
    /// is quoted, its quotes doubled.
    static func csvLine(_ fields: [String]) -> String {
        fields.map { field in
            guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else {
                return field
            }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }
}
