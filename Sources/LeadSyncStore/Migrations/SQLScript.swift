/// Splits a SQL file into statements, because PostgresNIO speaks only the extended
/// protocol, which takes one statement per message.
///
/// Knows what can hide a `;`: quoted strings and identifiers, dollar quotes
/// (`$$ … $$`, `$tag$ … $tag$`), line and block comments.
public enum SQLScript {
    public static func statements(in sql: String) -> [String] {
        let chars = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0

        func flush() {
            let text = String(current).trimmingWhitespace()
            if !text.isEmpty && !isOnlyComments(text) { statements.append(text) }
            current.removeAll()
        }

        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            switch c {
            case "-" where next == "-":
                while i < chars.count && chars[i] != "\n" {
                    current.append(chars[i])
                    i += 1
                }
                continue
            case "/" where next == "*":
                var depth = 0
                while i < chars.count {
                    if chars[i] == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                        depth += 1
                        current.append(chars[i])
                        current.append(chars[i + 1])
                        i += 2
                    } else if chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/" {
                        depth -= 1
                        current.append(chars[i])
                        current.append(chars[i + 1])
                        i += 2
                        if depth == 0 { break }
                    } else {
                        current.append(chars[i])
                        i += 1
                    }
                }
                continue
            case "'", "\"":
                current.append(c)
                i += 1
                while i < chars.count {
                    current.append(chars[i])
                    if chars[i] == c {
                        // A doubled quote is an escaped quote, not the end.
                        if i + 1 < chars.count && chars[i + 1] == c {
                            current.append(chars[i + 1])
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    i += 1
                }
                continue
            case "$":
                if let tagEnd = dollarTagEnd(chars, from: i) {
                    let tag = Array(chars[i...tagEnd])
                    for t in tag { current.append(t) }
                    i = tagEnd + 1
                    while i < chars.count {
                        if chars[i] == "$" && matches(chars, at: i, tag) {
                            for t in tag { current.append(t) }
                            i += tag.count
                            break
                        }
                        current.append(chars[i])
                        i += 1
                    }
                    continue
                }
            case ";":
                flush()
                i += 1
                continue
            default:
                break
            }
            current.append(c)
            i += 1
        }
        flush()
        return statements
    }

    /// `$$` or `$tag$` starting at `start`; returns the index of the closing `$` of the tag.
    private static func dollarTagEnd(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        // `$1` is a parameter, not a quote.
        if start > 0, isIdentifierChar(chars[start - 1]) { return nil }
        var j = start + 1
        while j < chars.count {
            let c = chars[j]
            if c == "$" { return j }
            if !(isIdentifierChar(c)) || (j == start + 1 && ("0"..."9").contains(c)) { return nil }
            j += 1
        }
        return nil
    }

    private static func matches(_ chars: [Unicode.Scalar], at i: Int, _ tag: [Unicode.Scalar]) -> Bool {
        guard i + tag.count <= chars.count else { return false }
        for k in 0..<tag.count where chars[i + k] != tag[k] { return false }
        return true
    }

    private static func isIdentifierChar(_ c: Unicode.Scalar) -> Bool {
        c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c.value > 127
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy {
            $0.trimmingWhitespace().isEmpty || $0.trimmingWhitespace().hasPrefix("--")
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
