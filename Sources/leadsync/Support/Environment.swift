import Foundation
import LeadSyncStore
import LeadSyncWorker
import Logging

/// What every command shares: the database URL and a stderr logger.
enum Environment {
    static func databaseURL() throws -> DatabaseURL {
        try DatabaseURL.fromEnvironment()
    }

    /// `DATABASE_URL`, `LEADSYNC_SESSION_DATABASE_URL`, `LEADSYNC_PREPARED_STATEMENTS`
    /// (README, Behind a connection pooler).
    static func databaseSetup() throws -> DatabaseSetup {
        try DatabaseSetup.fromEnvironment()
    }

    static func logger(label: String = "leadsync", level: Logger.Level = .warning, json: Bool = false) -> Logger {
        var logger = Logger(label: label) { label in
            json ? JSONLogHandler(label: label) as any LogHandler : TextLogHandler(label: label)
        }
        if let raw = ProcessInfo.processInfo.environment["LOG_LEVEL"], let parsed = Logger.Level(rawValue: raw) {
            logger.logLevel = parsed
        } else {
            logger.logLevel = level
        }
        return logger
    }
}
