import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WireJSON

/// A stand-in for the Uservox Bulk Initiate API (docs/contract.md §8) that also reports what it
/// received. One instance holds the state; `makeApplication` serves it over HTTP and
/// `withRunning` hosts it on a free port for the length of a test.
///
/// ```swift
/// let config = SimulatorConfiguration(projects: [.init(id: "p1", token: "tok-p1")])
/// try await UservoxSimulator.withRunning(config) { endpoint in
///     // POST \(endpoint.baseURL)/api/v1/leads/bulk/initiate …
///     let stats = endpoint.simulator.stats()
/// }
/// ```
public final class UservoxSimulator: Sendable {
    /// Bodies are collected up to this size (a 1000-lead body is about 200 KB).
    public static let maxBodyBytes = 16 * 1024 * 1024

    private let registry: Mutex<Registry>
    let faultPlan: Mutex<FaultPlan>
    private let hostile = Mutex<[String: ArraySlice<HostileAnswer>]>([:])
    private let idCounter = Atomic<Int>(0)
    private let unauthorized = Atomic<Int>(0)
    private let clock = ContinuousClock()

    /// Configuration and each project's ledger; looked up once per request.
    private struct Registry {
        var configuration: SimulatorConfiguration
        var tokens: [String: String]
        var ledgers: [String: LedgerBox] = [:]

        mutating func ledger(_ id: String) -> LedgerBox {
            if let box = ledgers[id] { return box }
            let box = LedgerBox()
            ledgers[id] = box
            return box
        }
    }

    /// One project's ledger behind its own lock, so projects never wait for each other.
    private final class LedgerBox: Sendable {
        let ledger = Mutex(ProjectLedger())
    }

    /// What a request needs from the registry, copied out under its lock.
    private struct Lookup: Sendable {
        let project: SimulatorConfiguration.Project
        let maxLeads: Int
        let limit: SimulatorConfiguration.RateLimit
        let protection: SimulatorConfiguration.DuplicateProtection
        let maxBytes: Int
        let box: LedgerBox
    }

    public init(configuration: SimulatorConfiguration) throws(SimulatorError) {
        let tokens = try configuration.tokenIndex()
        registry = Mutex(Registry(configuration: configuration, tokens: tokens))
        faultPlan = Mutex(FaultPlan(configuration.faults))
    }

    // MARK: - In-process control (the same as the /_sim endpoints)

    /// The configuration now in force.
    public var configuration: SimulatorConfiguration { registry.withLock { $0.configuration } }

    /// Replaces the configuration; what was received and accepted is kept.
    public func updateConfiguration(_ configuration: SimulatorConfiguration) throws(SimulatorError) {
        let tokens = try configuration.tokenIndex()
        let faultsChanged = registry.withLock { registry in
            let changed = registry.configuration.faults != configuration.faults
            registry.configuration = configuration
            registry.tokens = tokens
            return changed
        }
        if faultsChanged { faultPlan.withLock { $0.replace(configuration.faults) } }
    }

    /// Every configured project's counters (and any project seen before a config change).
    public func stats() -> SimulatorStats {
        let (ids, boxes) = registry.withLock { registry in
            (Set(registry.configuration.projects.keys).union(registry.ledgers.keys), registry.ledgers)
        }
        var projects: [String: ProjectStats] = [:]
        for id in ids {
            projects[id] = boxes[id]?.ledger.withLock { $0.stats } ?? ProjectStats()
        }
        return SimulatorStats(projects: projects, unauthorized: unauthorized.load(ordering: .relaxed))
    }

    /// The last verdict per lead, in the order leads were first seen; all projects when nil.
    public func verdicts(project: String? = nil) -> [SimulatorVerdict] {
        let boxes = registry.withLock { $0.ledgers }
        let ids = project.map { [$0] } ?? boxes.keys.sorted()
        return ids.flatMap { id in boxes[id]?.ledger.withLock { $0.verdicts } ?? [] }
    }

    /// Forgets everything received (stats, phones, ids, windows, blocks, verdicts, scripts);
    /// faults go back to the configured ones. The configuration stays.
    public func reset() {
        let (boxes, faults) = registry.withLock { registry in
            // Projects no longer configured are forgotten; the others keep their box.
            registry.ledgers = registry.ledgers.filter { registry.configuration.projects[$0.key] != nil }
            return (Array(registry.ledgers.values), registry.configuration.faults)
        }
        for box in boxes { box.ledger.withLock { $0 = ProjectLedger() } }
        faultPlan.withLock { $0 = FaultPlan(faults) }
        unauthorized.store(0, ordering: .relaxed)
    }

    /// Replaces the random fault rates, latency and seed.
    public func setFaults(_ faults: SimulatorConfiguration.Faults) {
        faultPlan.withLock { $0.replace(faults) }
    }

    /// The next requests (of `project`, or of any project when nil) take these actions in
    /// order, before any random fault is drawn.
    public func setFaultScript(_ script: [FaultAction], project: String? = nil) {
        faultPlan.withLock { $0.setScript(script, project: project) }
    }

    /// The next requests of `project` get these answers, one each, unprocessed.
    public func setHostileScript(_ answers: [HostileAnswer], project: String) {
        hostile.withLock { $0[project] = answers[...] }
    }

    /// No scripts, no random faults, no latency.
    public func clearFaults() {
        faultPlan.withLock { plan in
            let current = plan.faults
            plan = FaultPlan(SimulatorConfiguration.Faults(hang: current.hang, seed: current.seed))
        }
    }

    // MARK: - Bulk initiate

    func bulkInitiate(_ request: Request, context: SimulatorRequestContext) async throws -> Response {
        guard let token = Self.bearerToken(request.headers[.authorization]), let lookup = lookup(token: token) else {
            unauthorized.add(1, ordering: .relaxed)
            return Answer.error(.unauthorized, UservoxMessage.unauthorized)
        }
        let projectId = lookup.project.id
        let box = lookup.box
        let gate = box.ledger.withLock { $0.receive(at: clock.now, project: lookup.project, limit: lookup.limit) }
        switch gate {
        case .admitted: break
        case .notFound: return Answer.error(.forbidden, UservoxMessage.projectNotFound)
        case .inactive: return Answer.error(.forbidden, UservoxMessage.projectInactive)
        case .blocked(let wait), .limited(let wait):
            return Answer.error(.tooManyRequests, UservoxMessage.tooManyRequests, retryAfter: wait.retryAfterSeconds)
        }

        let (action, faults) = faultPlan.withLock { ($0.next(project: projectId), $0.faults) }
        if faults.latency > .zero { try await Task.sleep(for: faults.latency) }

        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: lookup.maxBytes)
        } catch is NIOTooManyBytesError {
            box.ledger.withLock { $0.noteRefused() }
            return Answer.error(.contentTooLarge, UservoxMessage.payloadTooLarge)
        }
        let document = body.withUnsafeReadableBytes { raw in
            try? JSONParser.parse(raw.assumingMemoryBound(to: UInt8.self))
        }
        let parsed = BulkRequest.parse(document, maxLeads: lookup.maxLeads)
        // Leads of a request that is not processed still count as received (and resent).
        func noteUnprocessed() {
            if case .success(let bulk) = parsed { box.ledger.withLock { $0.noteReceived(bulk) } }
        }
        if let answer = hostile.withLock({ $0[projectId]?.popFirst() }) {
            noteUnprocessed()
            box.ledger.withLock { $0.noteServerError() }
            return answer.response()
        }

        switch action {
        case .ok, .processedThen500:
            break
        case .serverError:
            noteUnprocessed()
            box.ledger.withLock { $0.noteServerError() }
            return Answer.error(.internalServerError, UservoxMessage.internalError)
        case .drop:
            noteUnprocessed()
            box.ledger.withLock { $0.noteDropped() }
            try await Self.dropConnection(context)
        case .hang:
            noteUnprocessed()
            box.ledger.withLock { $0.noteDropped() }
            // Ends early when the server shuts down, so a hang never holds up a test's teardown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: faults.hang) }
            try await Self.dropConnection(context)
        }

        let bulk: BulkRequest
        switch parsed {
        case .success(let value): bulk = value
        case .failure(let rejection):
            box.ledger.withLock { $0.noteRefused() }
            return Answer.json(rejection.status, rejection.body)
        }
        if let rejection = bulk.check(project: lookup.project) {
            box.ledger.withLock {
                $0.noteReceived(bulk)
                $0.noteRefused()
            }
            return Answer.json(rejection.status, rejection.body)
        }

        let answered = action != .processedThen500
        let outcomes = box.ledger.withLock { ledger in
            let outcomes = ledger.process(
                bulk, project: projectId, answered: answered, at: clock.now, protection: lookup.protection,
                nextIdNumber: { idCounter.add(1, ordering: .relaxed).newValue })
            if !answered { ledger.noteServerError() }
            return outcomes
        }
        guard answered else { return Answer.error(.internalServerError, UservoxMessage.internalError) }
        let simplified = request.uri.queryParameters["v"] == "1.2"
        return Answer.json(
            .ok, Answer.bulkBody(bulk, outcomes, simplified: simplified, sizeHint: body.readableBytes))
    }

    private func lookup(token: String) -> Lookup? {
        registry.withLock { registry in
            guard let id = registry.tokens[token], let project = registry.configuration.projects[id] else {
                return nil
            }
            let configuration = registry.configuration
            return Lookup(
                project: project,
                maxLeads: configuration.maxLeads(for: project),
                limit: configuration.rateLimit(for: project),
                protection: configuration.duplicateProtection,
                maxBytes: configuration.maxRequestBytes ?? Self.maxBodyBytes,
                box: registry.ledger(id)
            )
        }
    }

    /// `Bearer <token>`, the scheme in any case.
    static func bearerToken(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let token = header.dropFirst(7).trimmingSpaces
        return token.isEmpty ? nil : token
    }

    /// Closes the connection before anything is written: the client sees a connection
    /// error, never a response. Throwing afterwards makes Hummingbird's 500 go nowhere.
    private static func dropConnection(_ context: SimulatorRequestContext) async throws -> Never {
        try? await context.channel.close()
        throw ConnectionDropped()
    }

    private struct ConnectionDropped: Error {}
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
