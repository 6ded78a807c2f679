import Foundation
import LeadSyncTesting
import Testing
import UservoxSimulator

/// Runs the built `uservox-sim` binary; skipped when it has not been built beside the tests
/// (`swift build --product uservox-sim`).
@Suite struct CommandTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("uservox-sim").path
    static let built = FileManager.default.isExecutableFile(atPath: binary)

    @Test(.enabled(if: built)) func printsItsPortServesAndStopsOnSIGTERM() async throws {
        let process = try ManagedProcess(
            Self.binary, arguments: ["--port", "0", "--project", "p1=tok-p1", "--max-leads", "2", "--seed", "3"],
            environment: [:])
        defer { if process.isRunning { process.signal(SIGKILL) } }

        // The first stdout line names the port.
        try await waitUntil("uservox-sim prints its port") {
            if !process.isRunning { throw CommandFailed(stderr: process.standardError) }
            return process.standardOutput.contains("\n")
        }
        let line = try #require(process.standardOutput.split(separator: "\n").first.map(String.init))
        #expect(line.hasPrefix("listening on http://127.0.0.1:"))
        let port = try #require(Int(line.split(separator: ":").last ?? ""))

        let client = SimClient(port: port)
        let tooMany = try await client.leads([Lead(), Lead(), Lead()])
        #expect(tooMany.error == "Maximum of 2 leads allowed per request")
        let fine = try await client.leads([Lead(phone: "+15551230001")])
        #expect(fine.success.count == 1)

        process.signal(SIGTERM)
        #expect(try await process.waitForExit() == 0)
    }

    @Test(.enabled(if: built)) func refusesBadFlagsAndConfiguration() async throws {
        let badFlag = try await Self.run(["--error-rate", "2"])
        #expect(badFlag.status == 64)
        #expect(badFlag.stderr.contains("rates must be from 0 to 1"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("uservox-sim-\(UUID()).json")
        try Data(#"{"projects":{"p1":{"token":"t","colour":"red"}}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let badConfig = try await Self.run(["--config", file.path, "--port", "0"])
        #expect(badConfig.status == 1)
        #expect(badConfig.stderr.contains("unknown key projects.p1.colour"))
    }

    /// Runs the binary to its end. Awaited, never blocked on: a blocking read or wait here
    /// holds one of the two threads every test shares, and stalled the in-process
    /// simulator's answers past a client's timeout (ClientAgainstSimulatorTests).
    static func run(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
        let process = try ManagedProcess(binary, arguments: arguments, environment: [:])
        let status = try await process.waitForExit()
        return (status, process.standardError)
    }
}

struct CommandFailed: Error, CustomStringConvertible {
    let stderr: String
    var description: String { "uservox-sim exited early: \(stderr)" }
}
