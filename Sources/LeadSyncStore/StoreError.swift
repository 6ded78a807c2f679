import PostgresNIO

/// Every failure the store reports: a code to act on and one readable, secret-free line.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case badURL
        /// A DATABASE_URL query parameter LeadSync does not know or cannot use: a usage error (docs/contract.md §6).
        case badURLParameter
        case unreachable
        case migrationChanged
        case schemaAhead
        case notMigrated
        case query
        /// A value given to the store (e.g. a role name) it cannot use.
        case badArgument
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Turns whatever PostgresNIO threw into one line. `PSQLError.description` hides
    /// everything by design; the server's own message is what an operator needs.
    public static func from(_ error: any Error, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.commitError ?? error.beginError {
                return from(inner, doing: what)
            }
        }
        if let psql = error as? PSQLError {
            // undefined_table / invalid_schema_name: the schema is missing or behind.
            if psql.sqlState == "42P01" || psql.sqlState == "3F000" {
                return StoreError(
                    .notMigrated, "\(what): the database has no up-to-date leadsync schema; run leadsync migrate")
            }
            // insufficient_privilege: say whose rights fall short and where the roles are listed.
            if psql.sqlState == "42501", let message = psql.serverInfo?[.message] {
                return StoreError(
                    .query,
                    "\(what): \(message) (DATABASE_URL's role lacks it; README, Security lists each command's role)")
            }
            if let message = psql.serverInfo?[.message] {
                var line = "\(what): \(message)"
                if let detail = psql.serverInfo?[.detail] { line += " (\(detail))" }
                return StoreError(.query, line)
            }
            switch psql.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .sslUnsupported:
                return StoreError(
                    .unreachable,
                    "\(what): cannot reach PostgreSQL (\(psql.underlying.map { "\($0)" } ?? "\(psql.code)"))")
            default:
                return StoreError(.query, "\(what): \(psql.code)")
            }
        }
        return StoreError(.unreachable, "\(what): \(error)")
    }
}

extension PSQLError {
    /// The SQLSTATE the server sent, if any (e.g. `23514` for a CHECK violation).
    public var sqlState: String? { serverInfo?[.sqlState] }
    /// The constraint a violation names, if any.
    public var constraintName: String? { serverInfo?[.constraintName] }
}

extension StoreError {
    /// Whether the same statements may succeed if tried again: the connection or the
    /// server went away, a conflict with another transaction, a timeout, a server short of
    /// resources. Anything else (a data error, a constraint, a privilege) fails the same
    /// way every time, and retrying it would hold its request forever.
    public static func isTransient(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            guard let inner = error.closureError ?? error.commitError ?? error.beginError else { return true }
            return isTransient(inner)
        }
        guard let psql = error as? PSQLError else { return true }
        guard let state = psql.sqlState else { return true }  // no answer from the server
        if ["40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "25P03"].contains(state) { return true }
        return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("58")
    }
}
