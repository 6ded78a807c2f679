import ArgumentParser
import Foundation
import LeadSyncAdmin
import LeadSyncCore

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete old request history, or with --leads old finished leads and their history.",
        discussion: """
            Runs as a member of leadsync_admin (README, Security).

            Without --leads: deletes the attempt_leads rows of finished requests started
            before the cutoff. Leads, invalid markers and the requests themselves
            (leadsync attempts, report) are kept; only lead show loses those old lines.

            With --leads: deletes finished leads (submitted, invalid, cancelled; --states
            narrows it) whose last change (updated_at: when they finished) is older than
            --older-than, with their attempt_leads history, invalid markers and phone claims
            (the phone can be claimed by a new lead again). Never a pending, in-flight or held
            lead, nor one an open request lists. Works in short transactions of --batch-size
            lead ids, each committed on its own (an interrupted prune leaves every count
            right; run it again to go on), with a progress line on stderr. The request rows
            (leadsync attempts) are kept. --dry-run prints what would go, per project and
            state, and deletes nothing.

            Examples:
              leadsync prune --older-than 30d
              leadsync prune --older-than 90d --dry-run
              leadsync prune --leads --older-than 90d --dry-run
              leadsync prune --leads --older-than 90d --states submitted,cancelled
              leadsync prune --leads --older-than 180d --batch-size 2000 --pause 200ms
            """
    )

    @Option(
        help: "Age of what to delete: a number and a unit, e.g. 90d, 12h, 30m (ms, s, m, h, d, w).",
        transform: PruneCommand.parseAge)
    var olderThan: DurationArgument

    @Flag(help: "Delete finished leads and everything that names them, not only request history.")
    var leads = false

    @Option(
        help: "With --leads: the finished states to delete, comma-separated (default: submitted,invalid,cancelled).")
    var states: String?

    @Option(help: "With --leads: lead ids per transaction (1–100000).")
    var batchSize: Int = PruneLeads.Options.defaultBatchSize

    @Option(help: "With --leads: rest between transactions, e.g. 200ms, to leave the database to the worker.")
    var pause: DurationArgument?

    @Flag(help: "Count what would be deleted; delete nothing.")
    var dryRun = false

    @Option(help: .hidden)
    var now: InstantArgument?

    static func parseAge(_ text: String) throws -> DurationArgument {
        guard let argument = DurationArgument(argument: text) else {
            throw ValidationError(
                "'\(text)' is not a positive duration: a number and a unit, e.g. 90d, 12h, 30m (units ms, s, m, h, d, w)"
            )
        }
        return argument
    }

    /// `--states`: finished states only, each named once at most.
    static func parseStates(_ text: String) throws -> [LeadState] {
        let finished = LeadState.finished.map(\.rawValue).joined(separator: ", ")
        var result: [LeadState] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = name.trimmingCharacters(in: .whitespaces)
            guard let state = LeadState(rawValue: name) else {
                throw ValidationError("--states: '\(name)' is not a lead state; finished states are \(finished)")
            }
            guard state.isFinished else {
                throw ValidationError(
                    "--states: \(name) leads are not finished and are never pruned; finished states are \(finished)")
            }
            if !result.contains(state) { result.append(state) }
        }
        return result
    }

    func validate() throws {
        if !leads {
            if states != nil { throw ValidationError("--states needs --leads") }
            if pause != nil { throw ValidationError("--pause needs --leads") }
            if batchSize != PruneLeads.Options.defaultBatchSize { throw ValidationError("--batch-size needs --leads") }
            return
        }
        if let states { _ = try Self.parseStates(states) }
        guard PruneLeads.Options.batchSizes.contains(batchSize) else {
            throw ValidationError(
                "--batch-size must be \(PruneLeads.Options.batchSizes.lowerBound)–\(PruneLeads.Options.batchSizes.upperBound)"
            )
        }
    }

    func run() async throws {
        guard leads else {
            let result = try await Admin.withConnection(doing: "prune") { connection, logger in
                try await Prune(logger: logger).run(
                    olderThan: olderThan.duration, dryRun: dryRun, now: now?.date, on: connection)
            }
            print(result.summary)
            return
        }
        let options = PruneLeads.Options(
            olderThan: olderThan.duration, states: try states.map(Self.parseStates) ?? LeadState.finished,
            batchSize: batchSize, pause: pause?.duration ?? .zero, dryRun: dryRun)
        let line = PruneProgressLine(isTerminal: isatty(STDERR_FILENO) == 1)
        let result = try await Admin.withConnection(doing: "prune --leads") { connection, logger in
            try await PruneLeads(logger: logger).run(options, now: now?.date, on: connection) { line.show($0) }
        }
        line.finish()
        print(result.summary)
    }
}

/// The prune's progress on stderr: rewritten in place on a terminal, else one line every
/// few seconds (a log file gets a pulse, not a line per transaction).
final class PruneProgressLine {
    private let isTerminal: Bool
    private var lastShown: ContinuousClock.Instant?
    private var shownOnTerminal = false

    init(isTerminal: Bool) { self.isTerminal = isTerminal }

    func show(_ progress: PruneLeads.Progress) {
        let now = ContinuousClock.now
        if isTerminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(progress.line)".utf8))
            shownOnTerminal = true
        } else if lastShown.map({ now - $0 >= .seconds(5) }) ?? true {
            FileHandle.standardError.write(Data("\(progress.line)\n".utf8))
            lastShown = now
        }
    }

    func finish() {
        if shownOnTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
