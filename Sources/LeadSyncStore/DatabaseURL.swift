import Foundation
import PostgresNIO

/// `DATABASE_URL` (docs/contract.md §6): `postgres://user:pass@host:port/db[?sslmode=…&sslrootcert=…&sslcert=…&sslkey=…]
/// [&host=/socket/dir]`, sslmode as libpq defines it (README, Security).
public struct DatabaseURL: Sendable, CustomStringConvertible {
    /// libpq's sslmode. `allow` and `prefer` encrypt when the server can and verify nothing
    /// (both try TLS first: PostgresNIO cannot retry without it); `require` encrypts and
    /// verifies only when `sslrootcert` is given (as verify-ca, as libpq does);
    /// `verify-ca` checks the chain, `verify-full` the chain and the host name.
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// The query parameters LeadSync understands; any other is a usage error.
    public static let knownParameters: Set<String> = ["sslmode", "sslrootcert", "sslcert", "sslkey", "host"]

    public var host: String
    public var port: Int
    public var unixSocketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    /// A PEM file of CA certificates to trust, or `system` for the system's trust store.
    public var sslRootCert: String?
    /// A client certificate (PEM) and its key, for servers that ask for one.
    public var sslCert: String?
    public var sslKey: String?

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
        let items = components.queryItems ?? []
        let unknown = items.map(\.name).filter { !Self.knownParameters.contains($0) }
        guard unknown.isEmpty else {
            throw StoreError(
                .badURLParameter,
                "DATABASE_URL has unknown parameter\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")) (known: sslmode, sslrootcert, sslcert, sslkey, host)"
            )
        }
        let query = Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
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
        let mode = query["sslmode"].flatMap { $0.isEmpty ? nil : $0 } ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw StoreError(
                .badURLParameter,
                "DATABASE_URL has an unknown sslmode '\(mode)' (disable, allow, prefer, require, verify-ca or verify-full)"
            )
        }
        let nonEmpty = { (name: String) in query[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.sslRootCert = nonEmpty("sslrootcert")
        self.sslCert = nonEmpty("sslcert")
        self.sslKey = nonEmpty("sslkey")
        if (sslCert == nil) != (sslKey == nil) {
            throw StoreError(
                .badURLParameter, "DATABASE_URL: sslcert and sslkey go together (a client certificate and its key)")
        }
        if tls == .disable && (sslRootCert != nil || sslCert != nil) {
            throw StoreError(
                .badURLParameter, "DATABASE_URL: sslmode=disable with sslrootcert, sslcert or sslkey makes no sense")
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

    /// What the TLS handshake checks, per libpq's sslmode. Certificate and key files are
    /// read here, so a missing or unreadable one fails in one line before connecting.
    public func tlsConfiguration() throws -> TLSConfiguration? {
        var config = TLSConfiguration.makeClientConfiguration()
        switch tlsMode {
        case .disable: return nil
        case .allow, .prefer:
            config.certificateVerification = .none
        case .require:
            // libpq: with a root certificate given, require behaves as verify-ca.
            config.certificateVerification = sslRootCert == nil ? .none : .noHostnameVerification
        case .verifyCA:
            config.certificateVerification = .noHostnameVerification
        case .verifyFull:
            config.certificateVerification = .fullVerification
        }
        if let sslRootCert, sslRootCert != "system" {
            config.trustRoots = .certificates(
                try Self.readFile("sslrootcert", sslRootCert) {
                    try NIOSSLCertificate.fromPEMFile($0)
                })
        } else {
            // verify-ca / verify-full without sslrootcert: the system trust store (libpq would
            // look for ~/.postgresql/root.crt; a service account rarely has one).
            config.trustRoots = .default
        }
        if let sslCert, let sslKey {
            let chain = try Self.readFile("sslcert", sslCert) { try NIOSSLCertificate.fromPEMFile($0) }
            config.certificateChain = chain.map { .certificate($0) }
            config.privateKey = .privateKey(
                try Self.readFile("sslkey", sslKey) { try NIOSSLPrivateKey(file: $0, format: .pem) })
        }
        return config
    }

    private static func readFile<T>(_ parameter: String, _ path: String, _ load: (String) throws -> T) throws -> T {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw StoreError(.badArgument, "DATABASE_URL \(parameter) \(path) cannot be read")
        }
        do {
            return try load(path)
        } catch {
            throw StoreError(
                .badArgument, "DATABASE_URL \(parameter) \(path) is not a PEM file LeadSync can use (\(error))")
        }
    }

    func tls() throws -> PostgresConnection.Configuration.TLS {
        guard let config = try tlsConfiguration() else { return .disable }
        let context = try NIOSSLContext(configuration: config)
        switch tlsMode {
        case .disable: return .disable
        case .allow, .prefer: return .prefer(context)
        case .require, .verifyCA, .verifyFull: return .require(context)
        }
    }

    /// Settings of LeadSync's own sessions, nobody else's. `random_page_cost`: the queue's
    /// pages are in memory, and at the default (4) the planner, seeing fresh statistics
    /// that say most leads are pending, walks the primary key and filters instead of
    /// reading the small partial pending index: measured 6 ms instead of 1.4 ms per claim,
    /// 92 ms per gap scan and 0.5 s per sweep on a worked table (docs/performance.md).
    /// Sent as startup parameters on a direct connection; through a pooler, which refuses
    /// them (PgBouncer: "unsupported startup parameter"), the worker sets them per
    /// transaction instead (`PooledSettings`; README, Behind a connection pooler).
    public static let plannerSettings = [("random_page_cost", "1.1")]

    /// The one startup parameter every pooler passes on (PgBouncer tracks it per client).
    static let applicationName = ("application_name", "leadsync")

    /// Configuration for one dedicated connection (migrations, LISTEN, advisory locks),
    /// carrying `settings` as startup parameters besides `application_name`.
    public func connectionConfiguration(settings: [(String, String)] = plannerSettings) throws
        -> PostgresConnection.Configuration
    {
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
        config.options.additionalStartupParameters = [Self.applicationName] + settings
        return config
    }

    /// Configuration for a pool whose sessions carry `settings` from their startup (none
    /// through a pooler: `PooledSettings`).
    public func clientConfiguration(maximumConnections: Int = 10, settings: [(String, String)] = plannerSettings) throws
        -> PostgresClient.Configuration
    {
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
        config.options.additionalStartupParameters = [Self.applicationName] + settings
        return config
    }

    func clientTLS() throws -> PostgresClient.Configuration.TLS {
        guard let config = try tlsConfiguration() else { return .disable }
        switch tlsMode {
        case .disable: return .disable
        case .allow, .prefer: return .prefer(config)
        case .require, .verifyCA, .verifyFull: return .require(config)
        }
    }
}

extension DatabaseURL {
    /// Opens one dedicated connection; failures become one readable `StoreError` line. A
    /// pooler that refuses `settings` as startup parameters (PgBouncer does) gets a second
    /// try without them, so the admin commands work through it (README, Behind a
    /// connection pooler).
    public func connect(logger: Logger, settings: [(String, String)] = plannerSettings) async throws
        -> PostgresConnection
    {
        try await open(logger: logger, settings: settings).connection
    }

    /// As `connect`, and the server's refusal of a startup parameter when there was one:
    /// PostgreSQL accepts any setting there, so a refusal means a pooler (PgBouncer:
    /// "unsupported startup parameter: random_page_cost").
    public func open(logger: Logger, settings: [(String, String)] = plannerSettings) async throws
        -> (connection: PostgresConnection, refusal: String?)
    {
        do {
            return (
                try await PostgresConnection.connect(
                    configuration: try connectionConfiguration(settings: settings), id: 1, logger: logger), nil
            )
        } catch let error as PSQLError where !settings.isEmpty && Self.isStartupRefusal(error) {
            let refusal = error.serverInfo?[.message] ?? "unsupported startup parameter"
            do {
                return (
                    try await PostgresConnection.connect(
                        configuration: try connectionConfiguration(settings: []), id: 1, logger: logger), refusal
                )
            } catch {
                throw StoreError.connectFailure(error, url: self)
            }
        } catch {
            throw StoreError.connectFailure(error, url: self)
        }
    }

    static func isStartupRefusal(_ error: PSQLError) -> Bool {
        error.serverInfo?[.message]?.hasPrefix("unsupported startup parameter") == true
    }

    /// Runs `body` on a fresh connection and closes it afterwards, whatever happens.
    @discardableResult
    public func withConnection<T: Sendable>(
        logger: Logger, settings: [(String, String)] = plannerSettings, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(logger: logger, settings: settings)
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
        if let psql = error as? PSQLError, psql.code == .sslUnsupported {
            return StoreError(
                .unreachable,
                "cannot connect to \(url): the server does not offer TLS, and sslmode=\(url.tlsMode.rawValue) requires it"
            )
        }
        let why: String
        if let psql = error as? PSQLError {
            why = psql.underlying.map { "\($0)" } ?? "\(psql.code)"
        } else {
            why = "\(error)"
        }
        // NIOSSL's errors name BoringSSL's internals; say what the operator can act on.
        if why.contains("CERTIFICATE_VERIFY_FAILED") {
            let trusted = url.sslRootCert.map { $0 == "system" ? "the system trust store" : "sslrootcert \($0)" }
            return StoreError(
                .unreachable,
                "cannot connect to \(url): the server's TLS certificate is not trusted by \(trusted ?? "the system trust store") (sslmode=\(url.tlsMode.rawValue))"
            )
        }
        if why.contains("failedToValidateHostname") {
            return StoreError(
                .unreachable,
                "cannot connect to \(url): the server's TLS certificate is not issued for host name \(url.host) (sslmode=verify-full; verify-ca checks the chain only)"
            )
        }
        let oneLine = why.split(whereSeparator: \.isNewline).joined(separator: " ")
        return StoreError(.unreachable, "cannot connect to \(url): \(oneLine)")
    }
}
