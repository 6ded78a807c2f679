import Foundation
import PostgresNIO

/// `DATABASE_URL` (SPEC §6): `postgres://user:pass@host:port/db[?sslmode=disable|prefer|require][&host=/socket/dir]`.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var unixSocketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode

    public init(_ string: String) throws {
        let bad = { (why: String) in
            StoreError(.badURL, "DATABASE_URL is malformed: \(why) (expected postgres://user:pass@host:port/db)")
        }
        let trimmed = string.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw StoreError(.badURL, "DATABASE_URL is not set") }
        guard let components = URLComponents(string: trimmed) else { throw bad("not a URL") }
        guard let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw bad("the scheme must be postgres://")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? (socketDirectory == nil ? "127.0.0.1" : "")
        if components.port == nil && components.percentEncodedHost != nil,
            trimmed.range(of: #"@[^/]*:[^0-9/]"#, options: .regularExpression) != nil
        {
            throw bad("the port is not a number")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw bad("port \(port) is out of range") }
        guard let user = components.user, !user.isEmpty else { throw bad("no user name") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw bad("no database name") }
        let mode = query["sslmode"] ?? "prefer"
        let tls: TLSMode
        switch mode {
        case "disable", "allow": tls = .disable
        case "prefer", "": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw bad("unknown sslmode '\(mode)'")
        }
        self.host = host
        self.port = port
        self.unixSocketDirectory = socketDirectory
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.tlsMode = tls
    }

    /// Reads `DATABASE_URL` from the environment.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> DatabaseURL
    {
        guard let value = environment["DATABASE_URL"], !value.isEmpty else {
            throw StoreError(.badURL, "DATABASE_URL is not set (e.g. postgres://user:pass@localhost:5432/leads)")
        }
        return try DatabaseURL(value)
    }

    /// The URL without its password, for messages.
    public var description: String {
        let where_ = unixSocketDirectory ?? "\(host):\(port)"
        return "postgres://\(username)@\(where_)/\(database)"
    }

    /// The same server, another database (tests create one per test).
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    func tls() throws -> PostgresConnection.Configuration.TLS {
        switch tlsMode {
        case .disable: return .disable
        case .prefer: return .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: return .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    /// Settings of LeadSync's own sessions, nobody else's. `random_page_cost`: the queue's
    /// pages are in memory, and at the default (4) the planner, seeing fresh statistics
    /// that say most leads are pending, walks the primary key and filters instead of
    /// reading the small partial pending index: measured 6 ms instead of 1.4 ms per claim,
    /// 92 ms per gap scan and 0.5 s per sweep on a worked table (PERFORMANCE.md).
    static let sessionParameters = [("application_name", "leadsync"), ("random_page_cost", "1.1")]

    /// Configuration for one dedicated connection (migrations, LISTEN, advisory locks).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        if let socket = unixSocketDirectory {
            config = .init(
                unixSocketPath: "\(socket)/.s.PGSQL.\(port)", username: username, password: password, database: database
            )
        } else {
            config = .init(
                host: host, port: port, username: username, password: password, database: database, tls: try tls())
        }
        config.options.connectTimeout = .seconds(5)
        config.options.additionalStartupParameters = Self.sessionParameters
        return config
    }

    /// Configuration for a pool.
    public func clientConfiguration(maximumConnections: Int = 10) throws -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socket = unixSocketDirectory {
            config = .init(
                unixSocketPath: "\(socket)/.s.PGSQL.\(port)", username: username, password: password, database: database
            )
        } else {
            config = .init(
                host: host, port: port, username: username, password: password, database: database, tls: try clientTLS()
            )
        }
        config.options.connectTimeout = .seconds(5)
        config.options.maximumConnections = maximumConnections
        config.options.additionalStartupParameters = Self.sessionParameters
        return config
    }

    func clientTLS() throws -> PostgresClient.Configuration.TLS {
        switch tlsMode {
        case .disable: return .disable
        case .prefer: return .prefer(.makeClientConfiguration())
        case .require: return .require(.makeClientConfiguration())
        }
    }
}

extension DatabaseURL {
    /// Opens one dedicated connection; failures become one readable `StoreError` line.
    public func connect(logger: Logger) async throws -> PostgresConnection {
        let config = try connectionConfiguration()
        do {
            return try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        } catch {
            throw StoreError.connectFailure(error, url: self)
        }
    }

    /// Runs `body` on a fresh connection and closes it afterwards, whatever happens.
    @discardableResult
    public func withConnection<T: Sendable>(
        logger: Logger, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

extension StoreError {
    static func connectFailure(_ error: any Error, url: DatabaseURL) -> StoreError {
        if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] {
            return StoreError(.unreachable, "cannot connect to \(url): \(message)")
        }
        let why: String
        if let psql = error as? PSQLError {
            why = psql.underlying.map { "\($0)" } ?? "\(psql.code)"
        } else {
            why = "\(error)"
        }
        return StoreError(.unreachable, "cannot connect to \(url): \(why)")
    }
}
