import AsyncHTTPClient
import Foundation
import LeadSyncCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The Bulk Initiate Leads API over HTTP. Sends one batch and returns what happened as an
/// `APIAnswer`; it never throws for anything the server or the network does.
public struct UservoxClient: Sendable {
    public struct Configuration: Sendable {
        /// `USERVOX_BASE_URL`, default `https://crm.uservox.ai`.
        public var baseURL: String
        /// How long one request may take, end to end.
        public var requestTimeout: Duration
        public var connectTimeout: Duration
        /// Sends `v=1.2` (the simplified answer).
        public var apiVersion: String?
        /// Connections kept per host: enough for every project's `max_in_flight`.
        public var maxConnections: Int
        /// Answers larger than this are not read (a 1000-lead answer is a few hundred KB).
        public var maxAnswerBytes: Int

        public init(
            baseURL: String = "https://crm.uservox.ai", requestTimeout: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(5), apiVersion: String? = "1.2", maxConnections: Int = 64,
            maxAnswerBytes: Int = 4 * 1024 * 1024
        ) {
            self.maxAnswerBytes = maxAnswerBytes
            self.baseURL = baseURL
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
            self.apiVersion = apiVersion
            self.maxConnections = maxConnections
        }
    }

    /// The answer plus what the attempt row records.
    public struct Exchange: Sendable {
        public var answer: APIAnswer
        public var httpStatus: Int?
        public var duration: Duration
        /// The part of `duration` spent reading the answer (parsing and matching).
        public var classifyDuration: Duration = .zero
    }

    public let configuration: Configuration
    let http: HTTPClient
    let endpoint: String

    public init(configuration: Configuration, httpClient: HTTPClient) {
        self.configuration = configuration
        self.http = httpClient
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let query = configuration.apiVersion.map { "?v=\($0)" } ?? ""
        self.endpoint = "\(base)/api/v1/leads/bulk/initiate\(query)"
    }

    /// An `HTTPClient` set up for this API; the caller shuts it down.
    public static func makeHTTPClient(_ configuration: Configuration) -> HTTPClient {
        var config = HTTPClient.Configuration()
        config.timeout.connect = .nanoseconds(configuration.connectTimeout.nanosecondsValue)
        config.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections)
        config.decompression = .enabled(limit: .ratio(50))
        // A body that stalls: the connection is closed after this much silence, so a
        // request abandoned at its deadline never keeps a connection forever.
        config.timeout.read = .nanoseconds(configuration.requestTimeout.nanosecondsValue)
        // Redirects could carry the bearer token elsewhere.
        config.redirectConfiguration = .disallow
        // No spans: LeadSync installs no tracer, and AsyncHTTPClient's span for the no-op
        // one still parsed each request's URL twice (about 1.5 % of the worker's CPU in
        // the many-tenants drain: docs/performance.md §14).
        config.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: config)
    }

    /// Sends one batch. `body` is `RequestBody.encode(batch)`, built by the caller so it can
    /// be measured and reused.
    public func send(
        batch: BatchPlanner.Batch, body: [UInt8], token: String, logger: Logger
    ) async -> Exchange {
        let clock = ContinuousClock()
        let started = clock.now
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let timeout = configuration.requestTimeout
        let maxAnswerBytes = configuration.maxAnswerBytes
        do {
            // One deadline for connect, send, headers and body (docs/contract.md §3). AHC's
            // own deadline ends with the headers, so reading the body races what is left.
            let deadline = started + timeout
            let response = try await http.execute(
                request, deadline: .now() + .nanoseconds(timeout.nanosecondsValue))
            let status = Int(response.status.code)
            let headers = response.headers.map { (name: $0.name, value: $0.value) }
            let bytes = try await Self.readBody(
                response.body, upTo: maxAnswerBytes, within: deadline - clock.now, on: http.eventLoopGroup.any())
            let classifyStarted = clock.now
            let answer = AnswerClassifier.classify(status: status, headers: headers, body: bytes, batch: batch)
            let finished = clock.now
            return Exchange(
                answer: answer, httpStatus: status, duration: finished - started,
                classifyDuration: finished - classifyStarted)
        } catch let error as AnswerTooLarge {
            // Processed or not, we cannot tell: like a 5xx, ambiguous and retried.
            return Exchange(
                answer: .badResponse(status: 500, message: "\(error)"), httpStatus: nil,
                duration: clock.now - started)
        } catch {
            return Exchange(answer: Self.classify(error: error), httpStatus: nil, duration: clock.now - started)
        }
    }

    /// Reads the answer's body, giving up after `limit`. The read runs in a task of its own
    /// that an event loop's scheduled task cancels at the deadline; the timer is taken off the
    /// loop when the body comes first. A `Task.sleep` racing the read stayed queued for the
    /// whole request timeout after every request, and with many tenants their firing was
    /// most of what a worker that had just drained spent while idle (docs/operating.md §21).
    static func readBody(
        _ body: HTTPClientResponse.Body, upTo maxBytes: Int, within limit: Duration, on loop: any EventLoop
    ) async throws -> [UInt8] {
        let expired = Expired()
        let reading = Task {
            do {
                var buffer = try await body.collect(upTo: maxBytes)
                return buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch is NIOTooManyBytesError {
                throw AnswerTooLarge(limit: maxBytes)
            }
        }
        let timer = loop.scheduleTask(in: .nanoseconds(max(0, limit.nanosecondsValue))) {
            expired.flag.store(true, ordering: .relaxed)
            reading.cancel()
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await reading.value
            } onCancel: {
                reading.cancel()
            }
        } catch  where expired.flag.load(ordering: .relaxed) {
            throw HTTPClientError.deadlineExceeded
        }
    }

    private final class Expired: Sendable {
        let flag = Atomic<Bool>(false)
    }

    struct AnswerTooLarge: Error, CustomStringConvertible {
        let limit: Int
        var description: String { "the answer's body is larger than \(limit / 1024 / 1024) MiB; not read" }
    }

    /// Network failures: was the request certainly not sent, or may the server have it?
    static func classify(error: any Error) -> APIAnswer {
        let text = describe(error)
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout, .invalidURL,
                .httpProxyHandshakeTimeout, .socksHandshakeTimeout:
                return .notSent(message: text)
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return .timeout(message: text)
            default:
                return .connectionLost(message: text)
            }
        }
        if error is NIOConnectionError { return .notSent(message: text) }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return .notSent(message: text)
        }
        if let io = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(io.errnoCode) {
            return .notSent(message: text)
        }
        return .connectionLost(message: text)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            let reasons = error.connectionErrors.map { "\($0.error)" }
            if let dns = error.dnsAAAAError ?? error.dnsAError, reasons.isEmpty { return "DNS: \(dns)" }
            return "cannot connect: \(reasons.first ?? "\(error)")"
        }
        return String("\(error)".prefix(300))
    }
}
