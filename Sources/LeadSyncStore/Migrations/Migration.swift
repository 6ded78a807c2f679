import Crypto

/// One numbered, forward-only SQL file from `migrations/`.
public struct Migration: Sendable, Equatable {
    /// `0001_schema.sql`
    public let fileName: String
    public let sql: String

    public init(fileName: String, sql: String) {
        self.fileName = fileName
        self.sql = sql
    }

    /// The number in front of the name; the order migrations apply in.
    public var version: Int {
        Int(fileName.prefix { $0.isNumber }) ?? 0
    }
}

extension Migration {
    /// SHA-256 of the file's text: an applied migration whose text changes is refused.
    public var checksum: String {
        SHA256.hash(data: Array(sql.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
