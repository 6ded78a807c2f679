import Logging
import PostgresNIO

/// A query with the type of its rows. Each row type is decoded in one place, beside the SQL
/// that names its columns (Queries/*.swift), so no caller reads a row by position.
package struct RowQuery<Row: Sendable>: Sendable {
    package let query: PostgresQuery
    let decode: @Sendable (PostgresRow) throws -> Row

    init(_ query: PostgresQuery, decode: @escaping @Sendable (PostgresRow) throws -> Row) {
        self.query = query
        self.decode = decode
    }
}

/// A row's cells in order, each decoded as its own type.
struct RowCells {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    /// The cells `cells` has not read yet.
    init(remainderOf cells: PostgresRow.Iterator) { self.cells = cells }

    mutating func next<T: PostgresDecodable>(_: T.Type = T.self) throws -> T {
        guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
        return try cell.decode(T.self)
    }
}

extension PostgresConnection {
    /// Every row of `query`, decoded.
    package func rows<Row>(_ query: RowQuery<Row>, logger: Logger) async throws -> [Row] {
        var result: [Row] = []
        for try await row in try await self.query(query.query, logger: logger) { result.append(try query.decode(row)) }
        return result
    }

    /// The first row of `query`, if there is one.
    package func firstRow<Row>(_ query: RowQuery<Row>, logger: Logger) async throws -> Row? {
        try await rows(query, logger: logger).first
    }

    /// Each row of `query` in turn, so a long listing never sits in memory.
    package func forEachRow<Row>(_ query: RowQuery<Row>, logger: Logger, _ body: (Row) throws -> Void)
        async throws
    {
        for try await row in try await self.query(query.query, logger: logger) { try body(try query.decode(row)) }
    }
}
