import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `--metrics-port N`: Prometheus `/metrics` and `/healthz` (docs/contract.md §5) on `--metrics-host`,
/// loopback by default since neither asks for credentials.
public struct MetricsServer: Service {
    let registry: PrometheusCollectorRegistry
    let health: WorkerHealth
    let state: StateMetrics?
    let host: String
    let port: Int
    let logger: Logger

    public init(
        registry: PrometheusCollectorRegistry, health: WorkerHealth, state: StateMetrics? = nil,
        host: String = "127.0.0.1", port: Int, logger: Logger
    ) {
        self.registry = registry
        self.health = health
        self.state = state
        self.host = host
        self.port = port
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        let registry = self.registry
        let health = self.health
        let state = self.state
        router.get("/metrics") { _, _ -> Response in
            var bytes = registry.emitToBuffer()
            if let state { bytes += Array(await state.render().utf8) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/healthz") { _, _ -> Response in
            Response(
                status: health.isHealthy ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: health.summary + "\n")))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        // run(), not runService(): the worker's service group owns the signals and the order of shutdown.
        try await app.run()
    }
}
