import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncStore

/// Prints an error as one line on stderr and picks the exit code.
enum CLIExit {
    static func report(_ error: any Error) -> Int32 {
        if let checkFailure = error as? CheckBreached {
            printError(checkFailure.description)
            return 3
        }
        // docs/contract.md §6: a DATABASE_URL parameter LeadSync does not know or cannot use is a usage error.
        if let store = error as? StoreError, store.code == .badURLParameter {
            printError(store.description)
            return 2
        }
        // docs/contract.md §7.5: an import that could not start is a usage error.
        if let failure = error as? ImportError, failure.code == .usage {
            printError(failure.description)
            return 2
        }
        if !isArgumentParserError(error) {
            printError("\(error)")
            return 1
        }
        let code = LeadSyncCommand.exitCode(for: error)
        let message = LeadSyncCommand.fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return 0
        }
        if code == .validationFailure {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            return 2
        }
        if !message.isEmpty { printError(message) }
        return code.rawValue == 0 ? 1 : code.rawValue
    }

    static func printError(_ line: String) {
        let oneLine = line.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("leadsync: \(oneLine)\n".utf8))
    }

    private static func isArgumentParserError(_ error: any Error) -> Bool {
        let type = String(reflecting: Swift.type(of: error))
        return type.hasPrefix("ArgumentParser.") || error is ValidationError || error is CleanExit || error is ExitCode
    }
}

/// A failure that is the user's to fix, with a one-line message.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `report --check`: a threshold was breached (exit 3).
struct CheckBreached: Error, CustomStringConvertible {
    let description: String
}
