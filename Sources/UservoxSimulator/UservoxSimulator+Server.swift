import Hummingbird
import Logging
import ServiceLifecycle
import WireJSON

/// Where a running simulator listens.
public struct SimulatorEndpoint: Sendable {
    public let host: String
    public let port: Int
    public let simulator: UservoxSimulator

    /// `http://host:port`, without a trailing slash.
    public var baseURL: String { "http://\(host):\(port)" }
    /// The bulk initiate endpoint's full URL.
    public var bulkInitiateURL: String { baseURL + UservoxSimulator.bulkInitiatePath }
}

extension UservoxSimulator {
    public static let bulkInitiatePath = "/api/v1/leads/bulk/initiate"

    /// The API route and the `/_sim` control routes.
    public func makeRouter() -> Router<SimulatorRequestContext> {
        let router = Router(context: SimulatorRequestContext.self)
        router.post(RouterPath(Self.bulkInitiatePath)) { request, context in
            try await self.bulkInitiate(request, context: context)
        }
        router.get("/_sim/health") { _, _ in Answer.json(.ok, Answer.ok) }
        router.get("/_sim/stats") { _, _ in Answer.json(.ok, self.stats().json) }
        router.get("/_sim/verdicts") { request, _ in
            let project = request.uri.queryParameters["project"].map(String.init)
            return Answer.json(
                .ok, SimulatorVerdict.json(self.verdicts(project: project), withProject: project == nil))
        }
        router.post("/_sim/reset") { _, _ in
            self.reset()
            return Answer.json(.ok, Answer.ok)
        }
        router.post("/_sim/faults") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            do {
                try self.applyFaultsBody(Self.parse(body))
                return Answer.json(.ok, Answer.ok)
            } catch {
                return Answer.error(.badRequest, error.message)
            }
        }
        router.delete("/_sim/faults") { _, _ in
            self.clearFaults()
            return Answer.json(.ok, Answer.ok)
        }
        router.post("/_sim/config") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            do {
                var configuration = self.configuration
                try configuration.apply(json: Self.parse(body))
                try self.updateConfiguration(configuration)
                return Answer.json(.ok, Answer.ok)
            } catch {
                return Answer.error(.badRequest, error.message)
            }
        }
        return router
    }

    /// The simulator as a Hummingbird application. `onListening` gets the bound port
    /// (useful with port 0).
    public func makeApplication(
        host: String = "127.0.0.1",
        port: Int = 8089,
        logger: Logger? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger ?? Self.quietLogger
        )
    }

    /// Serves on a free port while `body` runs, then shuts the server down gracefully
    /// (a scripted "hang" in progress ends at once).
    public func withRunning<Result>(
        host: String = "127.0.0.1",
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SimulatorEndpoint) async throws -> Result
    ) async throws -> Result {
        let logger = logger ?? Self.quietLogger
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let application = makeApplication(host: host, port: 0, logger: logger) { port in
            listening.yield(port)
            listening.finish()
        }
        var serverConfiguration = ServiceGroupConfiguration(services: [application], logger: logger)
        // A client that never finishes its request must not hold the teardown for long.
        serverConfiguration.maximumGracefulShutdownDuration = .seconds(5)
        let server = ServiceGroup(configuration: serverConfiguration)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask {
                defer { listening.finish() }
                try await server.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(isolation: isolation) else {
                try await group.next()
                throw SimulatorError(.notListening, "the simulator stopped before it was listening")
            }
            do {
                let result = try await body(SimulatorEndpoint(host: host, port: port, simulator: self))
                await server.triggerGracefulShutdown()
                return result
            } catch {
                await server.triggerGracefulShutdown()
                throw error
            }
        }
    }

    /// A new simulator with `configuration`, served on a free port while `body` runs.
    public static func withRunning<Result>(
        _ configuration: SimulatorConfiguration,
        host: String = "127.0.0.1",
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SimulatorEndpoint) async throws -> Result
    ) async throws -> Result {
        let simulator = try UservoxSimulator(configuration: configuration)
        return try await simulator.withRunning(host: host, logger: logger, isolation: isolation, body)
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "uservox-sim")
        logger.logLevel = .warning
        return logger
    }

    // MARK: Control bodies

    private static func parse(_ body: ByteBuffer) throws(SimulatorError) -> JSONValue {
        do {
            return try body.withUnsafeReadableBytes { try JSONParser.parse($0.assumingMemoryBound(to: UInt8.self)) }
        } catch {
            throw SimulatorError(.invalidConfiguration, "\(error)")
        }
    }

    /// `{"project": "p1"?, "script": ["500", "drop", …]?, "errorRate": …, "latencyMs": …}`.
    private func applyFaultsBody(_ body: JSONValue) throws(SimulatorError) {
        var project: String?
        if let value = body["project"], !value.isNull {
            guard let id = value.stringValue else {
                throw SimulatorError(.invalidConfiguration, "project must be a string")
            }
            project = id
        }
        var script: [FaultAction]?
        if let value = body["script"], !value.isNull {
            guard let items = value.arrayValue else {
                throw SimulatorError(.invalidConfiguration, "script must be an array")
            }
            script = []
            for item in items {
                guard let text = item.scalarText, let action = FaultAction(rawValue: text) else {
                    let names = FaultAction.allCases.map(\.rawValue).joined(separator: ", ")
                    throw SimulatorError(.invalidConfiguration, "script entries must be one of: \(names)")
                }
                script?.append(action)
            }
        }
        let current = faultPlan.withLock { $0.faults }
        let faults = try SimulatorConfiguration.faults(body, base: current, extraKeys: ["project", "script"])
        faultPlan.withLock { plan in
            plan.replace(faults)
            if let script { plan.setScript(script, project: project) }
        }
    }
}

extension Error {
    fileprivate var message: String { (self as? SimulatorError)?.message ?? "\(self)" }
}
