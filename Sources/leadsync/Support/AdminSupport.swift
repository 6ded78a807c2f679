import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncStore
import Logging
import PostgresNIO

/// What the admin commands share: one connection, errors as one line, output styles.
enum Admin {
    /// Runs `body` on one connection to `DATABASE_URL`, which may be a pooler's: each
    /// command is single statements and whole transactions, so no session state is needed.
    /// Every failure becomes one readable line.
    static func withConnection<T: Sendable>(
        doing what: String, _ body: (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let setup = try Environment.databaseSetup()
        let logger = Environment.logger()
        do {
            return try await setup.withPoolConnection(logger: logger) { try await body($0, logger) }
        } catch {
            throw describe(error, doing: what)
        }
    }

    static func describe(_ error: any Error, doing what: String) -> any Error {
        switch error {
        case let error as AdminError: return error
        case let error as StoreError: return error
        case let error as CLIError: return error
        case let error as ImportError: return error
        case let error as PostgresTransactionError:
            if let inner = error.closureError ?? error.commitError ?? error.beginError {
                return describe(inner, doing: what)
            }
            return StoreError.from(error, doing: what)
        default:
            return StoreError.from(error, doing: what)
        }
    }

    /// Colour only for tables on a terminal, and never with NO_COLOR.
    static func style(for format: OutputFormat = .table) -> TerminalStyle {
        guard format == .table else { return .plain }
        return TerminalStyle.detect(
            isTerminal: isatty(STDOUT_FILENO) == 1, environment: ProcessInfo.processInfo.environment)
    }
}

extension OutputFormat: ExpressibleByArgument {}

/// A duration option (`24h`, `30d`, `15m`, `90s`), kept as typed for messages.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let text: String
    let duration: Duration

    init?(argument: String) {
        guard let duration = DurationText.parse(argument), duration > .zero else { return nil }
        self.text = argument
        self.duration = duration
    }

    var defaultValueDescription: String { text }
}

/// A share option (`5%` or `0.05`).
struct RateArgument: ExpressibleByArgument, Sendable {
    let share: Double

    init?(argument: String) {
        guard let share = RateText.parse(argument) else { return nil }
        self.share = share
    }
}

/// The hidden `--now` of commands whose output depends on the clock (tests pin it).
struct InstantArgument: ExpressibleByArgument, Sendable {
    let date: Date

    init?(argument: String) {
        guard let date = Timestamp.parse(argument) else { return nil }
        self.date = date
    }
}

/// Options every listing command shares.
struct ListOptions: ParsableArguments {
    @Option(help: "Only this project.")
    var project: String?

    @Option(help: "Output format: table, json or csv.")
    var format: OutputFormat = .table
}
