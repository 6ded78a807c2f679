import Foundation
import LeadSyncTesting
import Testing

/// deploy/systemd and the shell completions the README shows.
@Suite struct ServiceUnitTests {
    static let units = ["leadsync-worker.service", "leadsync-worker-health.service", "leadsync-worker-health.timer"]

    /// `systemd-analyze verify` on the units, the worker's ExecStart pointed at the built
    /// binary (verify refuses a command that does not exist). scripts/test.sh installs
    /// systemd when it is missing; without it this test says it skipped.
    @Test func unitsVerify() async throws {
        guard
            let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            print("SKIPPED ServiceUnitTests.unitsVerify: systemd-analyze is not installed (apt-get install systemd)")
            return
        }
        let source = OperationsKitTests.repository.appendingPathComponent("deploy/systemd")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for unit in Self.units {
            var text = try String(contentsOf: source.appendingPathComponent(unit), encoding: .utf8)
            if unit == "leadsync-worker.service" {
                for directive in [
                    "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                    "LoadCredential=tokens.json:/etc/leadsync/tokens.json",
                    "Environment=LEADSYNC_TOKENS_FILE=%d/tokens.json", "Restart=on-failure",
                    "ExecReload=/bin/kill -HUP $MAINPID",
                ] {
                    #expect(text.contains("\n\(directive)\n"), "missing \(directive)")
                }
                text = text.replacingOccurrences(of: "/usr/local/bin/leadsync", with: ProductBinary.path("leadsync"))
            }
            try text.write(to: directory.appendingPathComponent(unit), atomically: true, encoding: .utf8)
        }
        let verify = try ManagedProcess(
            analyze, arguments: ["verify"] + Self.units.map { directory.appendingPathComponent($0).path },
            environment: ["PATH": "/usr/bin:/bin", "SYSTEMD_LOG_LEVEL": "warning"])
        let status = try await verify.waitForExit()
        #expect(status == 0, "\(verify.standardError)")
        // Unknown or misspelt directives are only warnings to systemd: refuse them here.
        #expect(!verify.standardError.contains("ignoring"), "\(verify.standardError)")

        // The hardening as systemd scores it (1.5, "OK", when written): a directive lost
        // in an edit shows here rather than in production. The threshold is in tenths: 2.0.
        let security = try ManagedProcess(
            analyze,
            arguments: [
                "security", "--offline=true", "--threshold=20",
                directory.appendingPathComponent("leadsync-worker.service").path,
            ], environment: ["PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0"])
        #expect(try await security.waitForExit() == 0, "\(security.standardOutput.suffix(3000))")
    }

    @Test(arguments: ["bash", "zsh", "fish"]) func completionScripts(shell: String) async throws {
        let leadsync = try ManagedProcess(
            ProductBinary.path("leadsync"), arguments: ["--generate-completion-script", shell], environment: [:])
        #expect(try await leadsync.waitForExit() == 0, "\(leadsync.standardError)")
        let script = leadsync.standardOutput
        #expect(script.contains("worker") && script.contains("report") && script.contains("metrics-port"))
    }
}
