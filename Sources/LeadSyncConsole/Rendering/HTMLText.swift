import Foundation

/// Text made safe for HTML and SVG, for the few strings the console builds itself (charts,
/// links); templates escape with Mustache's `{{ }}`.
public enum HTMLText {
    /// `<`, `>`, `&`, `"` and `'` as entities: safe in element content and quoted attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters other than tab and newline have no business in a page.
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A query string component: everything but unreserved characters percent-encoded.
    public static func queryComponent(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        // CharacterSet.alphanumerics includes non-ASCII letters: encode those too.
        var out = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80, allowed.contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `path?k=v&…` with each value encoded; nil values left out.
    public static func link(_ path: String, _ parameters: [(String, String?)]) -> String {
        let query = parameters.compactMap { name, value in value.map { "\(name)=\(queryComponent($0))" } }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }
}

/// Figures as the pages print them.
public enum Figures {
    /// `1234567` → `1,234,567`.
    public static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }

    /// A rate per second: `0`, `0.02`, `3.5`, `1,234`.
    public static func rate(_ perSecond: Double) -> String {
        guard perSecond.isFinite, perSecond > 0 else { return "0" }
        if perSecond >= 100 { return count(Int(perSecond.rounded())) }
        if perSecond >= 10 { return trimmed(String(format: "%.1f", perSecond)) }
        if perSecond >= 0.1 { return trimmed(String(format: "%.2f", perSecond)) }
        return trimmed(String(format: "%.3f", perSecond))
    }

    /// A share as a percentage: `0 %`, `3.4 %`, `100 %`.
    public static func percent(_ share: Double) -> String {
        guard share.isFinite else { return "-" }
        let value = share * 100
        if value == 0 { return "0 %" }
        if value < 10 { return trimmed(String(format: "%.1f", value)) + " %" }
        return "\(Int(value.rounded())) %"
    }

    /// A duration in milliseconds: `250 ms`, `1.5 s`, `2m 3s`.
    public static func milliseconds(_ ms: Int64) -> String {
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 { return trimmed(String(format: "%.1f", Double(ms) / 1000)) + " s" }
        return "\(ms / 60_000)m \(ms % 60_000 / 1000)s"
    }

    private static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var text = text
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
