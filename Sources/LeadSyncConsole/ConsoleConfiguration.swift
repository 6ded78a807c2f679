import Foundation
import LeadSyncAdmin

/// What `leadsync console` was started with.
public struct ConsoleConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The token that signs an operator in for actions; nil: read-only, every POST refused.
    public var token: String?
    /// The thresholds of the overview's banner: `report --check`'s (docs/contract.md §7.4).
    public var thresholds: ReportThresholds
    /// The report's window (`--since`, 1h by default: a console watches the present; the
    /// overview then reads an hour of history, not a day): the invalid rate and requests counted in it.
    public var since: Duration
    public var sinceText: String
    /// How often the pages refresh themselves with JavaScript on (0: never).
    public var refreshSeconds: Int
    /// Rows per page of the invalid and held lists.
    public var pageSize: Int
    /// The instant every page is taken at, for tests; nil: the database's clock.
    public var now: Date?

    public init(
        host: String = "127.0.0.1", port: Int = 8089, token: String? = nil,
        thresholds: ReportThresholds = ConsoleConfiguration.defaultThresholds, since: Duration = .seconds(3600),
        sinceText: String = "1h", refreshSeconds: Int = 10, pageSize: Int = 50, now: Date? = nil
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.thresholds = thresholds
        self.since = since
        self.sinceText = sinceText
        self.refreshSeconds = refreshSeconds
        self.pageSize = pageSize
        self.now = now
    }

    /// The README's cron example: over 5 % invalid, a lead waiting over 10 minutes, any held lead.
    public static let defaultThresholds = ReportThresholds(
        maxInvalidRate: 0.05, maxLag: .seconds(600), maxHeld: 0)

    public var allowsActions: Bool { token != nil }
}
