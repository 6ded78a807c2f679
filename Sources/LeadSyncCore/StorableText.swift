/// Text from outside (API messages, answer bodies) made fit for a PostgreSQL text column,
/// once, where it is stored (docs/contract.md §3): NULs removed (PostgreSQL text cannot
/// hold them), invalid UTF-8 already replaced when the bytes became a `String`, and cut
/// to a byte bound on a scalar boundary, so the result is always valid UTF-8. Everything
/// else stays verbatim.
public enum StorableText {
    /// `submission_attempts.error` (its CHECK allows 2000 characters; bytes bound characters).
    public static let attemptErrorBytes = 2000
    /// Per-lead messages: `invalid_leads.message`, `attempt_leads.message`, `leads.last_error`.
    public static let messageBytes = 1000
    /// `projects.pause_reason`.
    public static let pauseReasonBytes = 600

    public static func clean(_ text: String, maxBytes: Int) -> String {
        let utf8 = text.utf8
        if utf8.count <= maxBytes && !utf8.contains(0) { return text }
        var scalars = String.UnicodeScalarView()
        var used = 0
        for scalar in text.unicodeScalars where scalar.value != 0 {
            let size = UTF8.width(scalar)
            if used + size > maxBytes { break }
            used += size
            scalars.append(scalar)
        }
        return String(scalars)
    }

    public static func clean(_ text: String?, maxBytes: Int) -> String? {
        text.map { clean($0, maxBytes: maxBytes) }
    }
}
