/// Phone rules of the worker's local pre-check (docs/contract.md §3.4), so a lead Uservox
/// would reject for its phone is caught before it costs API quota. The simulator judges
/// phones with a rule of its own (`SimulatedPhone`), so a bug here shows in tests.
public enum PhoneNumber {
    /// Digits allowed after normalizing (E.164 allows at most 15).
    public static let digitRange = 8...15
    /// A run this long of one digit is "repeating digits" (e.g. +1 555 000 0000 has 7 zeros: rejected).
    public static let repeatingRun = 7

    /// `+1 (555) 123-4567` → `+15551234567`; `nil` when it is not a phone number at all.
    /// Spaces, dashes, dots and parentheses are formatting; anything else is an error.
    public static func normalize(_ raw: String) -> String? { scan(raw, keepPlus: true) }

    /// `dedupeKey(normalize(raw))` in one pass, without the intermediate string: every
    /// claimed lead needs it.
    public static func normalizedKey(_ raw: String) -> String? { scan(raw, keepPlus: false) }

    private static func scan(_ raw: String, keepPlus: Bool) -> String? {
        // On the stack: this runs for every lead (pre-check, batching, matching answers).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: digitRange.upperBound + 1) { buffer in
            var count = 0
            var digits = 0
            var plus = false
            for byte in raw.utf8 {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard digits < digitRange.upperBound else { return nil }
                    buffer[count] = byte
                    count += 1
                    digits += 1
                case UInt8(ascii: "+") where digits == 0 && !plus:
                    plus = true
                    if keepPlus {
                        buffer[count] = byte
                        count += 1
                    }
                case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "."):
                    continue
                default:
                    return nil
                }
            }
            guard digitRange.contains(digits) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
        }
    }

    /// True when the number contains `repeatingRun` or more of one digit in a row.
    public static func hasRepeatingDigits(_ normalized: String) -> Bool {
        var previous: UInt8 = 0
        var run = 0
        for byte in normalized.utf8 where byte != UInt8(ascii: "+") {
            run = byte == previous ? run + 1 : 1
            previous = byte
            if run >= repeatingRun { return true }
        }
        return false
    }

    /// The key two leads share when they reach the same person: digits only, so
    /// `+15551234567` and `15551234567` are one phone.
    public static func dedupeKey(_ normalized: String) -> String {
        normalized.hasPrefix("+") ? String(normalized.dropFirst()) : normalized
    }
}
