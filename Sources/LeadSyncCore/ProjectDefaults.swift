/// A new project's limits (docs/contract.md §1.2): the column defaults of `leadsync.projects`
/// (migrations 0001 and 0004) in Swift, for every place that needs them before or without a
/// project row. A store test checks that the schema gives a new project exactly these.
public enum ProjectDefaults {
    public static let rateLimitRequests = 100
    public static let rateLimitWindow: Duration = .seconds(5)
    public static let maxBatchSize = 1000
    public static let maxInFlight = 4
    public static let maxAttempts = 8
    /// 1 MiB of encoded request body.
    public static let maxRequestBytes = 1_048_576
}
