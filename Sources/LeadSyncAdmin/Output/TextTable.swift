/// An aligned human table: columns separated by two spaces, numbers right-aligned, no
/// trailing blanks. Control characters in cells (an API message may carry any) are shown
/// as spaces, so a cell can neither break the layout nor drive the terminal.
public struct TextTable: Sendable {
    public enum Alignment: Sendable { case left, right }

    public struct Column: Sendable {
        public var title: String
        public var alignment: Alignment

        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public struct Cell: Sendable, ExpressibleByStringLiteral {
        public var text: String
        public var color: TerminalStyle.Color?

        public init(_ text: String, _ color: TerminalStyle.Color? = nil) {
            self.text = TextTable.sanitize(text)
            self.color = color
        }

        public init(stringLiteral value: String) { self.init(value) }
    }

    public var columns: [Column]
    public private(set) var rows: [[Cell]] = []

    public init(_ columns: [Column]) { self.columns = columns }

    public mutating func append(_ cells: [Cell]) {
        precondition(cells.count == columns.count, "a row has \(cells.count) cells for \(columns.count) columns")
        rows.append(cells)
    }

    public mutating func append(_ texts: [String]) { append(texts.map { Cell($0) }) }

    public var isEmpty: Bool { rows.isEmpty }

    /// The table as lines, each ending in a newline.
    public func render(style: TerminalStyle = .plain) -> String {
        var widths = columns.map(\.title.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.text.count) }
        }
        var out = ""
        func line(_ cells: [Cell], header: Bool) {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let gap = String(repeating: " ", count: widths[i] - cell.text.count)
                let isLast = i == cells.count - 1
                let colored = style.apply(header ? .bold : cell.color, cell.text)
                switch columns[i].alignment {
                case .left: parts.append(isLast ? colored : colored + gap)
                case .right: parts.append(gap + colored)
                }
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            out += text + "\n"
        }
        line(columns.map { Cell($0.title) }, header: true)
        for row in rows { line(row, header: false) }
        return out
    }

    static func sanitize(_ text: String) -> String {
        guard
            text.unicodeScalars.contains(where: {
                $0.value < 0x20 || $0.value == 0x7F || (0x80..<0xA0).contains($0.value)
            })
        else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            scalars.append(v < 0x20 || v == 0x7F || (0x80..<0xA0).contains(v) ? " " : scalar)
        }
        return String(scalars)
    }
}
