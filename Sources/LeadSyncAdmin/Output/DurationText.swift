/// Durations as operators type them (`90s`, `15m`, `24h`, `30d`, `2w`, `1h30m`, `500ms`;
/// a bare number is seconds) and as the tables print them (`2m05s`, `3h12m`, `1d04h`).
public enum DurationText {
    /// Milliseconds per unit, longest spelling first so `ms` is not read as `m` + `s`.
    static let units: [(name: String, milliseconds: Double)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]
    /// Longer than this is a typo, not a duration (and would overflow).
    static let maximumMilliseconds: Double = 100 * 365 * 86_400_000

    /// `nil` for anything that is not a duration; zero is a duration (callers decide if it is allowed).
    public static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var total: Double = 0
        var groups = 0
        while index < bytes.count {
            let numberStart = index
            var dots = 0
            while index < bytes.count, bytes[index] == UInt8(ascii: ".") || (bytes[index] >= 48 && bytes[index] <= 57) {
                if bytes[index] == UInt8(ascii: ".") { dots += 1 }
                index += 1
            }
            guard index > numberStart, dots <= 1,
                let number = Double(String(decoding: bytes[numberStart..<index], as: UTF8.self))
            else { return nil }
            let unitStart = index
            while index < bytes.count, (bytes[index] | 0x20) >= UInt8(ascii: "a"),
                (bytes[index] | 0x20) <= UInt8(ascii: "z")
            {
                index += 1
            }
            let unit = String(decoding: bytes[unitStart..<index], as: UTF8.self).lowercased()
            if unit.isEmpty {
                // A bare number is seconds, and only on its own: `1h30` is ambiguous.
                guard groups == 0, index == bytes.count else { return nil }
                total = number * 1000
            } else {
                guard let factor = units.first(where: { $0.name == unit })?.milliseconds else { return nil }
                total += number * factor
            }
            groups += 1
            guard total <= maximumMilliseconds else { return nil }
        }
        return .milliseconds(Int64(total.rounded()))
    }

    /// Two significant units at most: `45s`, `2m05s`, `15m`, `3h12m`, `1d04h`, `30d`.
    /// Sub-second durations print as `0s`; negative ones as `0s` too (a clock skew, not a lag).
    public static func format(_ duration: Duration) -> String {
        let seconds = max(0, duration.components.seconds)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 {
            let (m, s) = (seconds / 60, seconds % 60)
            return s == 0 ? "\(m)m" : "\(m)m\(two(s))s"
        }
        if seconds < 86_400 {
            let (h, m) = (seconds / 3600, seconds % 3600 / 60)
            return m == 0 ? "\(h)h" : "\(h)h\(two(m))m"
        }
        let (d, h) = (seconds / 86_400, seconds % 86_400 / 3600)
        return h == 0 ? "\(d)d" : "\(d)d\(two(h))h"
    }

    /// A request's duration: `0.25s`, `12.3s`, `2m05s`.
    public static func formatElapsed(milliseconds: Int64) -> String {
        let ms = max(0, milliseconds)
        if ms < 10_000 {
            let hundredths = (ms + 5) / 10
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)s"
        }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return "\(tenths / 10).\(tenths % 10)s"
        }
        return format(.milliseconds(ms))
    }

    /// Whole seconds of a duration (JSON and CSV carry numbers, not text).
    public static func wholeSeconds(_ duration: Duration) -> Int64 { max(0, duration.components.seconds) }
}
