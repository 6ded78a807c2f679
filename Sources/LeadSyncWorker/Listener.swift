import LeadSyncStore
import Logging
import PostgresNIO
import ServiceLifecycle
import UnixSignals

/// LISTEN leadsync_pending on a dedicated connection (not a pooled one). After every
/// (re)connect it listens first, then asks for a full scan, so nothing inserted while it
/// was away waits longer than that (docs/contract.md §5).
public struct Listener: Service {
    public static let channel = "leadsync_pending"

    let database: DatabaseURL
    let wake: WakeSignal
    let health: WorkerHealth
    let logger: Logger

    public init(database: DatabaseURL, wake: WakeSignal, health: WorkerHealth, logger: Logger) {
        self.database = database
        self.wake = wake
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = Duration.milliseconds(250)
            while !Task.isCancelled {
                do {
                    let connection = try await database.connect(logger: logger, settings: [])
                    var lost: (any Error)?
                    do {
                        try await connection.listen(on: Self.channel) { notifications in
                            health.setListening(true)
                            backoff = .milliseconds(250)
                            wake.wakeAll()
                            for try await notification in notifications {
                                wake.wake(project: notification.payload)
                            }
                        }
                    } catch {
                        lost = error
                    }
                    // Bounded: closing a connection the server dropped may never return.
                    try? await withTimeout(.seconds(2), "closing the LISTEN connection") {
                        try await connection.close()
                    }
                    if let lost { throw lost }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning(
                        "LISTEN connection lost; reconnecting",
                        metadata: [
                            "error": "\(StoreError.from(error, doing: "listen"))",
                            "retry_in_ms": "\(backoff.millisecondsValue)",
                        ])
                }
                health.setListening(false)
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }
}

/// SIGHUP rereads `LEADSYNC_TOKENS_FILE`; projects that gained a token get their
/// `token_missing` leads back.
public struct TokenReloader: Service {
    let tokens: TokenStore
    let dispatcher: Dispatcher
    let logger: Logger

    public init(tokens: TokenStore, dispatcher: Dispatcher, logger: Logger) {
        self.tokens = tokens
        self.dispatcher = dispatcher
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do {
                    let projects = try tokens.reload()
                    logger.notice("tokens reloaded", metadata: ["projects": "\(projects.count)"])
                    try await dispatcher.releaseProjectsWithTokens()
                } catch {
                    logger.error(
                        "tokens not reloaded; the previous ones stay in force", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
