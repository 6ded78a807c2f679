import LeadSyncTesting
import PostgresNIO

@testable import LeadSyncStore

extension TestDatabase {
    /// Runs `body` while a session of its own is the lock session 4242 and holds
    /// `project`'s lock, as a worker's does (docs/contract.md §5): attempts recorded with
    /// the lock `body` gets are fenced by it.
    func withProjectLocked<T: Sendable>(_ project: String, _ body: (ProjectLock) async throws -> T)
        async throws -> T
    {
        try await withConnection { session in
            _ = try await session.query(ProjectLock.identify(key: 4242), logger: Self.logger).collect()
            _ = try await session.query(ProjectLock.tryLock(project: project), logger: Self.logger).collect()
            return try await body(ProjectLock(sessionKey: 4242))
        }
    }
}
