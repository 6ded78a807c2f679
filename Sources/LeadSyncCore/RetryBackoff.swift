/// Exponential back-off with jitter for 5xx, timeouts and network errors (docs/contract.md §3).
public enum RetryBackoff {
    public static let base: Duration = .seconds(1)
    public static let cap: Duration = .seconds(300)

    /// The wait before attempt `attempt + 1`, after `attempt` failed attempts (1-based).
    /// `random` in 0..<1 spreads retries of many leads: half fixed, half jitter.
    public static func delay(afterAttempt attempt: Int, random: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 20)
        var full = base * (1 << exponent)
        if full > cap { full = cap }
        let jitter = min(max(random, 0), 1)
        return full / 2 + full / 2 * jitter
    }
}
