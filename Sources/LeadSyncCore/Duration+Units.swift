extension Duration {
    /// Whole nanoseconds, for APIs (NIO, PostgreSQL intervals) that count in them.
    public var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Seconds as a floating-point number, for logs, metrics and SQL intervals.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    public var millisecondsValue: Int64 { nanosecondsValue / 1_000_000 }
}
