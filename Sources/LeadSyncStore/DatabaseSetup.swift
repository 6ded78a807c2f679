import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Where LeadSync's connections go (README, Behind a connection pooler). `DATABASE_URL`
/// carries the pooled queries and may name a transaction-mode pooler such as PgBouncer;
/// what must stay one server session (the worker's LISTEN connection and its lock session,
/// `leadsync migrate`'s lock) goes to `LEADSYNC_SESSION_DATABASE_URL`, a direct
/// connection, when it is set. Setting it says that `DATABASE_URL` is pooled.
public struct DatabaseSetup: Sendable {
    /// `LEADSYNC_PREPARED_STATEMENTS`: the hot queries as named prepared statements
    /// (planned once per connection) or unnamed ones (planned every time). PgBouncer keeps
    /// named statements in transaction mode only from 1.21 on, with
    /// `max_prepared_statements` above 0.
    public enum PreparedStatements: String, Sendable, CaseIterable {
        /// On for a direct `DATABASE_URL`, off for a pooled one.
        case auto
        case on
        case off
    }

    public var pool: DatabaseURL
    /// `LEADSYNC_SESSION_DATABASE_URL`; nil: `DATABASE_URL` is direct and serves both.
    public var sessionURL: DatabaseURL?
    public var preparedStatements: PreparedStatements

    public init(pool: DatabaseURL, session: DatabaseURL? = nil, preparedStatements: PreparedStatements = .auto) {
        self.pool = pool
        self.sessionURL = session
        self.preparedStatements = preparedStatements
    }

    /// `DATABASE_URL` names a pooler: its sessions carry no settings of their own.
    public var pooled: Bool { sessionURL != nil }
    /// Where sessions go: the session URL, else `DATABASE_URL`.
    public var session: DatabaseURL { sessionURL ?? pool }
    /// Whether the hot queries are named prepared statements.
    public var namedStatements: Bool {
        switch preparedStatements {
        case .auto: !pooled
        case .on: true
        case .off: false
        }
    }
    /// What `DATABASE_URL`'s connections send as startup parameters (a pooler refuses them).
    public var poolStartupSettings: [(String, String)] { pooled ? [] : DatabaseURL.plannerSettings }

    public static let sessionVariable = "LEADSYNC_SESSION_DATABASE_URL"
    public static let preparedStatementsVariable = "LEADSYNC_PREPARED_STATEMENTS"

    /// Reads `DATABASE_URL`, `LEADSYNC_SESSION_DATABASE_URL` and `LEADSYNC_PREPARED_STATEMENTS`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> DatabaseSetup
    {
        let pool = try DatabaseURL.fromEnvironment(environment)
        var session: DatabaseURL?
        if let value = environment[sessionVariable], !value.isEmpty {
            do {
                session = try DatabaseURL(value)
            } catch let error as StoreError {
                throw StoreError(
                    error.code, error.message.replacingOccurrences(of: "DATABASE_URL", with: sessionVariable))
            }
        }
        var prepared = PreparedStatements.auto
        if let value = environment[preparedStatementsVariable], !value.isEmpty {
            guard let mode = PreparedStatements(rawValue: value.lowercased()) else {
                throw StoreError(
                    .badURLParameter, "\(preparedStatementsVariable) must be auto, on or off, not '\(value)'")
            }
            prepared = mode
        }
        return DatabaseSetup(pool: pool, session: session, preparedStatements: prepared)
    }

    /// Runs `body` on one connection to `DATABASE_URL` for an admin command: through a
    /// pooler it goes without LeadSync's startup settings (known from the session URL, or
    /// learnt from the pooler's refusal).
    public func withPoolConnection<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try await pool.withConnection(logger: logger, settings: poolStartupSettings, body)
    }

    /// Checks before the worker starts that its sessions will stay sessions; throws one
    /// line saying what to set when they would not.
    public func checkSessions(logger: Logger) async throws {
        if let sessionURL {
            let probe = try await sessionURL.probe(logger: logger, settings: [])
            if probe.sharedBackend {
                throw StoreError(
                    .badArgument,
                    "\(Self.sessionVariable) (\(sessionURL)) leads to a transaction-mode pooler (two connections were served by one server session): LISTEN and the project locks need a direct connection to PostgreSQL or a session-mode pooler (README, Behind a connection pooler)"
                )
            }
        } else {
            let probe = try await pool.probe(logger: logger, settings: DatabaseURL.plannerSettings)
            if let why = probe.refusal.map({ "it refused a startup parameter: \($0)" })
                ?? (probe.sharedBackend ? "two connections were served by one server session" : nil)
            {
                throw StoreError(
                    .badArgument,
                    "DATABASE_URL (\(pool)) leads to a connection pooler (\(why)): LISTEN and the project locks need a session of their own; set \(Self.sessionVariable) to a direct connection to PostgreSQL (README, Behind a connection pooler)"
                )
            }
        }
    }
}

/// The settings a worker's session would carry from its startup (`random_page_cost`,
/// `statement_timeout`), set instead at the start of each transaction with
/// `set_config(…, true)` (SET LOCAL): through a transaction-mode pooler a session setting
/// would apply to whichever client gets that server connection next, and ours would be
/// gone with the next transaction. Costs a transaction around every pooled call (BEGIN,
/// this, the call, COMMIT); a direct pool never pays it, nor a pooled one whose server
/// sessions already carry the values (`ALTER ROLE … SET`: `carried(on:)`).
public final class PooledSettings: Sendable {
    public let settings: [(String, String)]
    let query: PostgresQuery
    let current: PostgresQuery
    private let perCall = Atomic<Bool>(true)

    public init(_ settings: [(String, String)]) {
        self.settings = settings
        var bindings = PostgresBindings(capacity: settings.count * 2)
        var names = PostgresBindings(capacity: settings.count)
        var calls: [String] = []
        var reads: [String] = []
        for (index, (name, value)) in settings.enumerated() {
            bindings.append(name)
            bindings.append(value)
            names.append(name)
            calls.append("set_config($\(index * 2 + 1), $\(index * 2 + 2), true)")
            reads.append("current_setting($\(index + 1))")
        }
        query = PostgresQuery(unsafeSQL: "SELECT " + calls.joined(separator: ", "), binds: bindings)
        current = PostgresQuery(unsafeSQL: "SELECT ARRAY[" + reads.joined(separator: ", ") + "]::text[]", binds: names)
    }

    /// Whether each pooled call must set them (false once the sessions are found to carry them).
    public var needed: Bool { perCall.load(ordering: .relaxed) && !settings.isEmpty }

    /// Sets them for the rest of `connection`'s open transaction.
    public func apply(on connection: PostgresConnection, logger: Logger) async throws {
        guard needed else { return }
        try await connection.query(query, logger: logger)
    }

    /// Whether `connection`'s server session already has these values, as PostgreSQL
    /// spells them (a role's settings, `ALTER ROLE <login> SET statement_timeout = '29s'`,
    /// apply to every server session a pooler opens for it): then each pooled call goes
    /// alone, one round trip, and this says so from now on. Checked once, at start, on one
    /// server session: a client sharing the login role that changes a session setting
    /// would go unseen, so the worker's login role should be its own.
    @discardableResult
    public func adoptIfCarried(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        guard !settings.isEmpty else { return false }
        // In a transaction rolled back, so nothing is left on the server session.
        try await connection.query("BEGIN", logger: logger)
        let carried: Bool
        do {
            let now = try await connection.query(current, logger: logger).collect().first?.decode([String].self)
            try await connection.query(query, logger: logger)
            let wanted = try await connection.query(current, logger: logger).collect().first?.decode([String].self)
            try await connection.query("ROLLBACK", logger: logger)
            carried = now != nil && now == wanted
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        if carried { perCall.store(false, ordering: .relaxed) }
        return carried
    }
}

extension DatabaseURL {
    /// What opening two connections at once says about this URL: whether the server refused
    /// `settings` as startup parameters (a pooler), and whether both connections were
    /// served by one server session (`pg_backend_pid()`), which a direct connection or a
    /// session-mode pooler never does and a transaction-mode pooler does when it has a
    /// server connection idle. Startup only: a few round trips.
    public func probe(logger: Logger, settings: [(String, String)]) async throws -> (
        refusal: String?, sharedBackend: Bool
    ) {
        let (first, refusal) = try await open(logger: logger, settings: settings)
        do {
            let firstPid = try await first.query("SELECT pg_backend_pid()", logger: logger).collect().first?.decode(
                Int32.self)
            let secondPid = try await withConnection(logger: logger, settings: refusal == nil ? settings : []) {
                try await $0.query("SELECT pg_backend_pid()", logger: logger).collect().first?.decode(Int32.self)
            }
            try? await first.close()
            return (refusal, firstPid != nil && firstPid == secondPid)
        } catch {
            try? await first.close()
            throw StoreError.from(error, doing: "checking \(self)")
        }
    }
}
