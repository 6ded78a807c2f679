import Foundation
import LeadSyncStore
import PostgresNIO

/// A PgBouncer of a test's own (Debian's `pgbouncer`, installed by scripts/test.sh) in front
/// of the test server: its own config and auth file in a temporary folder, a free port,
/// every database of the server behind it (`*`). PgBouncer refuses to run as root, so as
/// root it switches to `postgres` (`-u`), the user scripts/db.sh runs the server as.
public final class PgBouncer: Sendable {
    /// Where Debian puts it; nil when it is not installed.
    public static var binary: String? {
        ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    public let port: Int
    let directory: String
    let process: ManagedProcess

    /// Starts it and waits until it answers. `users` may log in (trust, as the test server).
    public init(server: DatabaseURL, users: [String], poolMode: String = "transaction", poolSize: Int = 20)
        async throws
    {
        guard let binary = Self.binary else {
            throw WaitTimedOut(description: "pgbouncer is not installed (apt-get install pgbouncer)")
        }
        port = try PrivateServer.freePort()
        directory = "/tmp/leadsync-pgbouncer-\(port)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let target =
            server.unixSocketDirectory.map { "host=\($0) port=\(server.port)" }
            ?? "host=\(server.host) port=\(server.port)"
        try """
        [databases]
        * = \(target)
        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = \(port)
        unix_socket_dir =
        auth_type = trust
        auth_file = \(directory)/userlist.txt
        pool_mode = \(poolMode)
        default_pool_size = \(poolSize)
        max_client_conn = 200
        logfile = \(directory)/pgbouncer.log
        """.write(toFile: "\(directory)/pgbouncer.ini", atomically: true, encoding: .utf8)
        try users.map { "\"\($0)\" \"\"" }.joined(separator: "\n")
            .write(toFile: "\(directory)/userlist.txt", atomically: true, encoding: .utf8)
        var arguments = ["\(directory)/pgbouncer.ini"]
        if geteuid() == 0 {
            _ = system("chown -R postgres: '\(directory)'")
            arguments = ["-u", "postgres"] + arguments
        }
        process = try ManagedProcess(binary, arguments: arguments, environment: [:])
        let url = self.url(server)
        let process = self.process
        let directory = self.directory
        do {
            try await waitUntil("pgbouncer answers on port \(port)", timeout: .seconds(20)) {
                if !process.isRunning {
                    let log = (try? String(contentsOfFile: "\(directory)/pgbouncer.log", encoding: .utf8)) ?? ""
                    throw WaitTimedOut(
                        description: "pgbouncer exited: \(process.standardError) \(log.suffix(2000))")
                }
                return
                    (try? await url.withConnection(logger: TestDatabase.logger, settings: []) { c in
                        try await c.query("SELECT 1", logger: TestDatabase.logger)
                    }) != nil
            }
        } catch {
            stop()
            throw error
        }
    }

    /// `database` reached through this PgBouncer: same user and database name.
    public func url(_ database: DatabaseURL) -> DatabaseURL {
        var url = database
        url.host = "127.0.0.1"
        url.port = port
        url.unixSocketDirectory = nil
        url.tlsMode = .disable
        url.sslRootCert = nil
        url.sslCert = nil
        url.sslKey = nil
        return url
    }

    /// Its log so far (for failure messages).
    public var log: String { (try? String(contentsOfFile: "\(directory)/pgbouncer.log", encoding: .utf8)) ?? "" }

    public func stop() {
        if process.isRunning {
            process.signal(SIGKILL)
            process.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A running PgBouncer for the length of `body`, stopped afterwards whatever happens.
    public static func withRunning<T: Sendable>(
        server: DatabaseURL, users: [String], poolMode: String = "transaction", poolSize: Int = 20,
        _ body: (PgBouncer) async throws -> T
    ) async throws -> T {
        let bouncer = try await PgBouncer(server: server, users: users, poolMode: poolMode, poolSize: poolSize)
        do {
            let result = try await body(bouncer)
            bouncer.stop()
            return result
        } catch {
            bouncer.stop()
            throw error
        }
    }
}
