import Foundation

/// RFC 4180: records end in CRLF; a field holding a comma, a double quote, CR or LF is
/// enclosed in double quotes, its quotes doubled. An absent value is an empty field.
///
/// Formula injection (OWASP "CSV Injection"): a cell starting with `=`, `+`, `-`, `@`, tab
/// or CR is one a spreadsheet may run as a formula, and lead data and API messages come
/// from outside. Such a cell gets a single quote in front (`'+14155550100`), as OWASP
/// recommends; phones written with a leading `+` are shown so too (README, Security).
public enum CSV {
    public static func field(_ value: String?) -> String {
        guard let value else { return "" }
        let cell = neutralized(value)
        guard cell.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func record(_ fields: [String?]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    /// The value with a `'` in front when a spreadsheet could read it as a formula.
    public static func neutralized(_ value: String) -> String {
        guard let first = value.utf8.first else { return value }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D:
            return "'" + value
        default:
            return value
        }
    }
}
