import Foundation

/// Shares as operators type them (`5%`, `0.05`) and as the tables print them (`12.5%`).
public enum RateText {
    /// A share from 0 to 1; `nil` when it is not one.
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let percent = trimmed.hasSuffix("%")
        let number = percent ? String(trimmed.dropLast()) : trimmed
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number)
        else { return nil }
        let share = percent ? value / 100 : value
        return (0...1).contains(share) ? share : nil
    }

    /// One decimal: `0.6%`, `12.5%`, `100.0%`.
    public static func format(_ share: Double) -> String {
        let tenths = Int((share * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// Four decimals, for JSON and CSV: 0.0062.
    public static func rounded(_ share: Double) -> Double { (share * 10_000).rounded() / 10_000 }
}
