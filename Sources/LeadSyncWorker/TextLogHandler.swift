import Foundation
import Logging
import Synchronization

/// `--log-format text` (the default): one line per event on stderr. API messages and
/// project ids come from outside, so control characters in the message and in metadata
/// values are escaped: nothing they hold can end a line early or forge another one.
public struct TextLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let line = Self.format(
            timestamp: Self.timestamp(Date()), level: event.level, label: label,
            message: event.message.description, metadata: merged)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The second of the last line and its ISO 8601 text: formatting a date was a sixth of
    /// what a line cost, and a busy worker writes hundreds a second.
    private static let lastSecond = Mutex<(second: Double, text: String)>((-1, ""))

    /// `date` in ISO 8601 to the second, formatted once a second.
    static func timestamp(_ date: Date) -> String {
        let second = date.timeIntervalSince1970.rounded(.down)
        return lastSecond.withLock { last in
            if last.second != second { last = (second, date.formatted(.iso8601)) }
            return last.text
        }
    }

    /// `<time> <level> <label>: <message> key=value …`, keys sorted, everything escaped.
    public static func format(
        timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var line = "\(timestamp) \(level) \(escape(label)): \(escape(message))"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(escape(key))=\(escape("\(value)"))"
        }
        return line
    }

    /// Backslash, C0 and C1 controls, DEL, line and paragraph separators and bidi
    /// overrides become visible escapes (`\n`, `\u{1B}`); the rest is kept as is.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x5C, 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
