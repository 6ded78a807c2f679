/// The simulator's own phone rule, written from the API reference (docs/contract.md §8:
/// a bad phone, "Phone number contains repeating digits pattern") and deliberately not the
/// product's `PhoneNumber`: the simulator judges the worker's pre-check, so a bug there
/// must show as the API's rejection, not be shared by both sides.
///
/// A phone is digits with optional formatting (space, dash, dot, parentheses) and at most
/// one `+` before the first digit; 8 to 15 digits (E.164 allows 15); seven or more of one
/// digit in a row is the repeating-digits pattern.
enum SimulatedPhone {
    static let digitCount = 8...15
    static let repeatingRun = 7

    /// The digits that identify the phone (a leading `+` is not part of them) and whether
    /// they repeat; nil for a bad phone.
    static func judge(_ text: String) -> (key: String, repeatingDigits: Bool)? {
        var key = ""
        var plusSeen = false
        var previous: Unicode.Scalar?
        var run = 0
        var longestRun = 0
        for scalar in text.unicodeScalars {
            switch scalar {
            case "0"..."9":
                key.unicodeScalars.append(scalar)
                if key.utf8.count > digitCount.upperBound { return nil }
                run = scalar == previous ? run + 1 : 1
                previous = scalar
                longestRun = max(longestRun, run)
            case "+" where key.isEmpty && !plusSeen:
                plusSeen = true
            case " ", "-", ".", "(", ")":
                continue
            default:
                return nil
            }
        }
        guard digitCount.contains(key.utf8.count) else { return nil }
        return (key, longestRun >= repeatingRun)
    }
}
