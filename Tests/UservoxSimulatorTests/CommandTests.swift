import Foundation
import Testing
import UservoxSimulator

/// Runs the built `uservox-sim` binary; skipped when it has not been built beside the tests
/// (`swift build --product uservox-sim`).
@Suite struct CommandTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("uservox-sim").path
    static let built = FileManager.default.isExecutableFile(atPath: binary)

    @Test(.enabled(if: built)) func printsItsPortServesAndStopsOnSIGTERM() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--port", "0", "--project", "p1=tok-p1", "--max-leads", "2", "--seed", "3"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The first stdout line names the port.
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let line = try #require(text.split(separator: "\n").first.map(String.init))
        #expect(line.hasPrefix("listening on http://127.0.0.1:"))
        let port = try #require(Int(line.split(separator: ":").last ?? ""))

        let client = SimClient(port: port)
        let tooMany = try await client.leads([Lead(), Lead(), Lead()])
        #expect(tooMany.error == "Maximum of 2 leads allowed per request")
        let fine = try await client.leads([Lead(phone: "+15551230001")])
        #expect(fine.success.count == 1)

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test(.enabled(if: built)) func refusesBadFlagsAndConfiguration() throws {
        let badFlag = try Self.run(["--error-rate", "2"])
        #expect(badFlag.status == 64)
        #expect(badFlag.stderr.contains("rates must be from 0 to 1"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("uservox-sim-\(UUID()).json")
        try Data(#"{"projects":{"p1":{"token":"t","colour":"red"}}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let badConfig = try Self.run(["--config", file.path, "--port", "0"])
        #expect(badConfig.status == 1)
        #expect(badConfig.stderr.contains("unknown key projects.p1.colour"))
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
