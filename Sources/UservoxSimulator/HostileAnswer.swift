import Hummingbird
import NIOCore
import ServiceLifecycle
import WireJSON

/// Answers no documented API gives but real proxies, load balancers and broken
/// deployments do (docs/contract.md §3, last paragraph): scripted per project, each used
/// once, for a request that is then not processed.
public enum HostileAnswer: Sendable, Equatable {
    /// 429 with this `Retry-After` value, verbatim (`inf`, `NaN`, `1e20`, a date…).
    case rateLimited(retryAfter: String)
    /// `status` with `{"error": message}`; the message may hold NULs or anything else.
    case error(status: Int, message: String)
    /// `status` with exactly these bytes as the body (deeply nested JSON, garbage…).
    case raw(status: Int, body: [UInt8])
    /// 200, its headers and `prefix`, then silence until `stall` passes (or the server
    /// shuts down), then the connection closes.
    case stallBody(prefix: String, stall: Duration)

    func response() -> Response {
        switch self {
        case .rateLimited(let value):
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[.retryAfter] = value
            return Response(
                status: .tooManyRequests, headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: Answer.errorBody(UservoxMessage.tooManyRequests))))
        case .error(let status, let message):
            return Answer.json(HTTPResponse.Status(code: status), Answer.errorBody(message))
        case .raw(let status, let body):
            return Answer.json(HTTPResponse.Status(code: status), body)
        case .stallBody(let prefix, let stall):
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: prefix))
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: stall) }
                    throw StalledOnPurpose()
                })
        }
    }

    private struct StalledOnPurpose: Error {}
}
