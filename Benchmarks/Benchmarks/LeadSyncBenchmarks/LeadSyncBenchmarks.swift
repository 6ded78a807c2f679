import Benchmark
import Foundation
import LeadSyncCore
import UservoxClient
import WireJSON

/// 1000 leads as the worker reads them, with realistic fields.
let leads: [Lead] = (0..<1000).map { i in
    Lead(
        id: Int64(1_000_000 + i), projectId: "acme", processId: "spring-campaign", groupId: "g-\(i % 7)",
        phone: "+1415\(String(1_000_000 + i))", email: "lead\(i)@example.com", name: "Lead Number \(i)",
        firstName: "Lead", lastName: "Number \(i)", referenceId: nil,
        metadata: #"{"source": "web", "score": 42, "tags": ["a", "b"]}"#)
}
let batch = BatchPlanner.Batch(mode: .leads, initialize: true, leads: leads)
let body = RequestBody.encode(batch)

/// The answer a 200 gives for that batch: every lead accepted with an id (v=1.2 shape).
let answer: [UInt8] = {
    var writer = JSONWriter(reservingCapacity: 80_000)
    writer.beginObject()
    writer.key("success")
    writer.beginArray()
    for lead in leads {
        writer.beginObject()
        writer.field("id", "uv_\(lead.id)")
        writer.field("referenceId", lead.wireReferenceId)
        writer.field("phone", lead.phone)
        writer.endObject()
    }
    writer.endArray()
    writer.key("errors")
    writer.beginArray()
    writer.endArray()
    writer.endObject()
    return writer.bytes
}()

/// Foundation's coder, the baseline the README compares against.
struct WireLead: Codable {
    var projectId, processId, groupId, phone, email, name, firstName, lastName, referenceId: String?
    var metadata: [String: String]
}
struct WireBody: Codable {
    var leads: [WireLead]
    var `init`: Bool
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], maxDuration: .seconds(2))

    Benchmark("RequestBody.encode 1000 leads") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(RequestBody.encode(batch)) }
    }

    Benchmark("Foundation JSONEncoder 1000 leads (baseline)") { benchmark in
        let wire = WireBody(
            leads: leads.map {
                WireLead(
                    projectId: $0.projectId, processId: $0.processId, groupId: $0.groupId, phone: $0.phone,
                    email: $0.email, name: $0.name, firstName: $0.firstName, lastName: $0.lastName,
                    referenceId: $0.wireReferenceId, metadata: ["source": "web"])
            }, init: true)
        let encoder = JSONEncoder()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try encoder.encode(wire)) }
    }

    Benchmark("AnswerClassifier.classify 200 with 1000 leads") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(AnswerClassifier.classify(status: 200, headers: [], body: answer, batch: batch))
        }
    }

    Benchmark("JSONParser.parse request body (1000 leads)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try JSONParser.parse(body)) }
    }

    Benchmark("Foundation JSONSerialization request body (baseline)") { benchmark in
        let data = Data(body)
        for _ in benchmark.scaledIterations { blackHole(try JSONSerialization.jsonObject(with: data)) }
    }

    Benchmark("BatchPlanner.nextBatch 1000 of 2000 ready") { benchmark in
        let ready = leads + leads.map { var copy = $0; copy.id += 10_000; copy.phone = "+1416\(copy.id)"; return copy }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(BatchPlanner.nextBatch(from: ready, maxBatchSize: 1000)) }
    }

    Benchmark("LeadValidator.check 1000 leads") { benchmark in
        for _ in benchmark.scaledIterations {
            for lead in leads { blackHole(LeadValidator.check(lead)) }
        }
    }

    Benchmark("OutcomePlanner.plan 1000 accepted") { benchmark in
        let processed = AnswerClassifier.classify(status: 200, headers: [], body: answer, batch: batch)
        let context = OutcomePlanner.Context(maxAttempts: 8, currentBatchSize: 1000, random: { _ in 0.5 })
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(OutcomePlanner.plan(answer: processed, leads: leads, context: context))
        }
    }

    Benchmark("RateLimiter start + check, 100 per 5 s window", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var limiter = RateLimiter<ContinuousClock.Instant>(settings: .init(requests: 100, window: .seconds(5)))
        var now = ContinuousClock.now
        for _ in benchmark.scaledIterations {
            let at = limiter.earliestStart(now: now)
            now = max(now, at)
            limiter.recordStart(at: now)
        }
    }
}
