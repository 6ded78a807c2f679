import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// Exit codes (docs/contract.md §7): 0 ok, 1 error, 2 usage, 3 a `--check` threshold breached.
// ArgumentParser's own usage failures exit 64; they are mapped to 2 here.
do {
    var command = try LeadSyncCommand.parseAsRoot()
    if command is WorkerCommand {
        // The worker's tasks run on the event loops that do its I/O: no thread hop to and
        // from Swift's own pool around each query and request. Worker CPU per request with
        // 10,000 small projects: 1.13 → 0.86 ms (docs/performance.md §12). Installed before
        // the first `await`, once; the worker never blocks a task (no `wait()`, no locks
        // held across I/O).
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
