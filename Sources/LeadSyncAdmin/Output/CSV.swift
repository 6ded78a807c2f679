import Foundation

/// RFC 4180: records end in CRLF; a field holding a comma, a double quote, CR or LF is
/// enclosed in double quotes, its quotes doubled. An absent value is an empty field.
public enum CSV {
    public static func field(_ value: String?) -> String {
        guard let value else { return "" }
        guard value.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func record(_ fields: [String?]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }
}
