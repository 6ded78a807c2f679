import Foundation
import LeadSyncStore

/// A PostgreSQL server of a test's own (via `scripts/db.sh`), for tests that stop or
/// restart the server and must not disturb the shared one.
public final class PrivateServer: Sendable {
    public let port: Int
    public let directory: String
    public let url: DatabaseURL

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/db.sh").path
    }

    public init() async throws {
        port = try Self.freePort()
        directory = "/tmp/leadsync-private-\(port)-\(UInt32.random(in: 0...UInt32.max))"
        let output = try await Self.run("start", port: port, directory: directory)
        url = try DatabaseURL(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// A migrated private server for the length of `body`, destroyed afterwards whatever happens.
    public static func withMigrated<T: Sendable>(_ body: (PrivateServer) async throws -> T) async throws -> T {
        let server = try await PrivateServer()
        do {
            try await server.url.withConnection(logger: TestDatabase.logger) { c in
                try await Migrator(logger: TestDatabase.logger).migrate(on: c)
            }
            let result = try await body(server)
            await server.destroy()
            return result
        } catch {
            await server.destroy()
            throw error
        }
    }

    public func stop() async throws { _ = try await Self.run("stop", port: port, directory: directory) }
    public func start() async throws { _ = try await Self.run("start", port: port, directory: directory) }
    public func destroy() async { _ = try? await Self.run("destroy", port: port, directory: directory) }

    /// A port nothing uses, for a server a test starts: one from `range` that binds. The
    /// default range lies below the kernel's ephemeral ports (32768 and up), so no outgoing
    /// connection takes it before the server binds it; a port the kernel picked for port 0
    /// could be (a worker's metrics port failed so once: "Address already in use").
    public static func freePort(in range: ClosedRange<Int> = 20_000...29_999) throws -> Int {
        for _ in 0..<50 {
            let candidate = Int.random(in: range)
            if (try? bindable(candidate)) == true { return candidate }
        }
        throw WaitTimedOut(description: "no free port in \(range)")
    }

    static func bindable(_ port: Int) throws -> Bool { (try? boundPort(port)) == port }

    static func boundPort(_ port: Int) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WaitTimedOut(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw WaitTimedOut(description: "bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs db.sh with `system()`: a `Process` would wait for the server, which inherits
    /// its descriptors, and never see the script end. Off the cooperative pool (`blocking`).
    static func run(_ verb: String, port: Int, directory: String) async throws -> String {
        let output = "\(directory).\(verb).out"
        let command =
            "LEADSYNC_PG_PORT=\(port) LEADSYNC_PG_DIR='\(directory)' /bin/bash '\(script)' \(verb) > '\(output)' 2>&1"
        let status = await blocking { system(command) }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        guard status == 0 else { throw WaitTimedOut(description: "db.sh \(verb) failed (\(status)): \(text)") }
        return text.split(separator: "\n").last.map(String.init) ?? ""
    }
}
