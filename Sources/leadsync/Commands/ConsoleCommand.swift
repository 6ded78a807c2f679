import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncConsole
import LeadSyncWorker
import PostgresNIO

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the operator's web console: projects worst first, charts, leads, invalid and held lists.",
        discussion: """
            Read-only: runs as a member of leadsync_reader. With --allow-actions (pause,
            resume, release, resubmit): as a member of leadsync_admin (README, Security).

            Listens on 127.0.0.1 unless --host says otherwise; the pages ask for no
            credentials, so put anything else behind a proxy that does. --allow-actions
            needs a token of at least 16 characters in LEADSYNC_CONSOLE_TOKEN, or in the
            file LEADSYNC_CONSOLE_TOKEN_FILE names (mode 600, like LEADSYNC_TOKENS_FILE);
            an operator signs in with it, and every action is a POST with a CSRF field,
            logged (never the token).

            The banner shows breaches of the thresholds report --check takes
            (defaults: --max-invalid-rate 5% --max-lag 10m --max-held 0).

            Examples:
              leadsync console
              leadsync console --port 8090 --since 1h
              LEADSYNC_CONSOLE_TOKEN_FILE=/etc/leadsync/console-token leadsync console --allow-actions
            """
    )

    @Option(help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port, printed at start).")
    var port: Int = 8089

    @Flag(
        help:
            "Enable pause, resume, release and resubmit (needs LEADSYNC_CONSOLE_TOKEN or LEADSYNC_CONSOLE_TOKEN_FILE).")
    var allowActions = false

    @Option(help: "The report's window: requests and the invalid rate (e.g. 1h, 24h).")
    var since = DurationArgument(argument: "1h")!

    @Option(help: "Banner when a project's invalid rate is over this (5% or 0.05).")
    var maxInvalidRate: RateArgument?

    @Option(help: "Banner when a project's oldest pending lead waits longer (e.g. 10m).")
    var maxLag: DurationArgument?

    @Option(help: "Banner when a project holds more leads than this.")
    var maxHeld: Int?

    @Option(help: "Seconds between live refreshes of a page with JavaScript on (0: never).")
    var refresh: Int = 10

    @Option(help: .hidden)
    var now: InstantArgument?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
        if let maxHeld, maxHeld < 0 { throw ValidationError("--max-held must be 0 or more") }
        guard refresh >= 0 else { throw ValidationError("--refresh must be 0 or more") }
    }

    func run() async throws {
        let url = try Environment.databaseURL()
        let logger = Environment.logger(label: "leadsync.console", level: .info)
        var token: String?
        if allowActions {
            token = try Self.token(ProcessInfo.processInfo.environment)
        }
        let defaults = ConsoleConfiguration.defaultThresholds
        let thresholds = ReportThresholds(
            maxInvalidRate: maxInvalidRate?.share ?? defaults.maxInvalidRate,
            maxLag: maxLag?.duration ?? defaults.maxLag, maxHeld: maxHeld ?? defaults.maxHeld)
        let configuration = ConsoleConfiguration(
            host: host, port: port, token: token, thresholds: thresholds, since: since.duration, sinceText: since.text,
            refreshSeconds: refresh, now: now?.date)
        let client = PostgresClient(configuration: try Console.clientConfiguration(url), backgroundLogger: logger)
        let console = Console(configuration: configuration, client: client, logger: logger)
        let mode = allowActions ? "actions enabled" : "read-only"
        let app = console.application { port in
            // The line tests and scripts wait for (port 0 picks a free port).
            let shown = host.contains(":") ? "[\(host)]" : host
            FileHandle.standardOutput.write(
                Data("leadsync console listening on http://\(shown):\(port) (\(mode))\n".utf8))
        }
        try await app.runService()
    }

    /// The token from LEADSYNC_CONSOLE_TOKEN, else from the file LEADSYNC_CONSOLE_TOKEN_FILE names.
    static func token(_ environment: [String: String]) throws -> String {
        var token: String
        if let value = environment["LEADSYNC_CONSOLE_TOKEN"], !value.isEmpty {
            token = value
        } else if let path = environment["LEADSYNC_CONSOLE_TOKEN_FILE"], !path.isEmpty {
            do {
                let bytes = try TokenStore.readSecretFile(path, variable: "LEADSYNC_CONSOLE_TOKEN_FILE")
                token = String(decoding: bytes, as: UTF8.self)
            } catch let error as TokenStore.LoadError {
                throw CLIError(error.description)
            }
        } else {
            throw CLIError(
                "--allow-actions needs a token: set LEADSYNC_CONSOLE_TOKEN, or LEADSYNC_CONSOLE_TOKEN_FILE to a file (mode 600)"
            )
        }
        token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= ConsoleAuth.minimumTokenLength else {
            throw CLIError("the console token must be at least \(ConsoleAuth.minimumTokenLength) characters")
        }
        return token
    }
}
