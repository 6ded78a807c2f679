import LeadSyncStore
import PostgresNIO

extension TestDatabase {
    /// A LOGIN role of its own, member of `group` only, so `body` runs with exactly that
    /// group's rights (as a deployment's login roles do). Roles are cluster-wide: the name
    /// is random and the role is dropped afterwards.
    public func withLoginRole<T: Sendable>(
        memberOf group: String, _ body: (DatabaseURL) async throws -> T
    ) async throws -> T {
        let name = "lt_role_\(UInt32.random(in: 0...UInt32.max))"
        try await withConnection { c in
            try await c.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(name) LOGIN IN ROLE \(group)"), logger: logger)
        }
        var roleURL = url
        roleURL.username = name
        roleURL.password = nil
        do {
            let result = try await body(roleURL)
            try await dropRole(name)
            return result
        } catch {
            try? await dropRole(name)
            throw error
        }
    }

    private func dropRole(_ name: String) async throws {
        try await withConnection { c in
            try await c.query(PostgresQuery(unsafeSQL: "DROP ROLE IF EXISTS \(name)"), logger: logger)
        }
    }
}
