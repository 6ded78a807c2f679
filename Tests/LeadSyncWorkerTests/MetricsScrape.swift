import AsyncHTTPClient
import Foundation
import NIOCore

/// A worker's `/metrics` and `/healthz`, fetched and parsed for the tests.
struct MetricsScrape {
    let port: Int

    func get(_ path: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// Every sample as `name{labels}` → value, labels as the worker wrote them.
    func samples() async throws -> [String: Double] {
        Self.parse(try await get("/metrics").body)
    }

    static func parse(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            result[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        return result
    }

    /// The metric names a scrape exports: each sample's name, and each family's TYPE line.
    static func names(_ text: String) -> Set<String> {
        var names: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                names.insert(String(line.split(separator: " ")[2]))
            } else if !line.hasPrefix("#"), let end = line.firstIndex(where: { $0 == "{" || $0 == " " }) {
                names.insert(String(line[..<end]))
            }
        }
        return names
    }
}
