import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// Exit codes (docs/contract.md §7): 0 ok, 1 error, 2 usage, 3 a `--check` threshold breached.
// ArgumentParser's own usage failures exit 64; they are mapped to 2 here.
do {
    var command = try LeadSyncCommand.parseAsRoot()
    if command is WorkerCommand {
        // The worker's tasks run on the event loops that do its I/O: a query's or a
        // request's answer resumes its task where it was read, without a hop to Swift's
        // pool and back. Backlog lanes run on `BacklogExecutor` instead, off the loops
        // (docs/performance.md §15). Installed once, before the first `await`; the
        // worker's tasks never block a thread (no `wait()`, no lock held across I/O).
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
    if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.runAsync()
    } else {
        try command.run()
    }
} catch {
    exit(CLIExit.report(error))
}

extension AsyncParsableCommand {
    /// Calls the `async` `run()`; on an existential the synchronous requirement would win.
    mutating func runAsync() async throws { try await run() }
}
