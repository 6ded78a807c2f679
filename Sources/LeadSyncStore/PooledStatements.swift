import Logging
import PostgresNIO

/// One statement on the pool, on a connection held until the statement has ended.
///
/// Not PostgresNIO's own `PostgresClient.query` and `execute`: they give the connection
/// back when the caller has read the rows to their end. A statement that fails after
/// PostgreSQL began its answer (a unique violation in a data-modifying part, an array past
/// PostgreSQL's limits) never ends that way when the error is read before the caller
/// starts on the rows: the connection is lost to the pool for good, and once all are lost
/// every call waits until its deadline (PostgresNIO 1.33.2, `PSQLRowStream.asyncSequence`
/// when the stream has already failed; Tests/LeadSyncStoreTests/FailedStatementTests.swift,
/// docs/operating.md §23). `withConnection` gives the connection back whatever the rows did.
extension PostgresClient {
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await withConnection { connection in try await connection.query(query, logger: logger).collect() }
    }

    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement, logger: Logger) async throws
        -> [Statement.Row]
    where Statement.Row: Sendable {
        try await withConnection { connection in try await connection.rows(statement, logger: logger) }
    }
}

extension PostgresConnection {
    /// Every row of a prepared statement, decoded.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement, logger: Logger) async throws
        -> [Statement.Row]
    where Statement.Row: Sendable {
        var result: [Statement.Row] = []
        for try await row in try await execute(statement, logger: logger) { result.append(row) }
        return result
    }
}
