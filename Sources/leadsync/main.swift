import ArgumentParser
import Foundation

// Exit codes (docs/contract.md §7): 0 ok, 1 error, 2 usage, 3 a `--check` threshold breached.
// ArgumentParser's own usage failures exit 64; they are mapped to 2 here.
do {
    var command = try LeadSyncCommand.parseAsRoot()
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
