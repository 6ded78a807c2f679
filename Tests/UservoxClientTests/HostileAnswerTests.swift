import Foundation
import LeadSyncCore
import PropertyBased
import Testing
import WireJSON

@testable import UservoxClient

/// docs/contract.md §3, last paragraph: nothing upstream sends can crash the worker.
@Suite struct HostileAnswerTests {
    let batch = BatchPlanner.Batch(
        mode: .leads, initialize: true,
        leads: (1...3).map { Lead(id: Int64($0), projectId: "p", phone: "+1555123456\($0)") })

    func retryAfter(_ value: String, now: Date = Date(timeIntervalSince1970: 1_700_000_000)) -> Duration? {
        AnswerClassifier.retryAfter([("Retry-After", value)], now: now)
    }

    @Test func retryAfterIsClampedAndAbsurdValuesMeanTheDefault() {
        #expect(retryAfter("12") == .seconds(12))
        #expect(retryAfter(" 0 ") == .zero)
        #expect(retryAfter("1.5") == .milliseconds(1500))
        // Valid delta-seconds, absurd size: at most 60 s.
        #expect(retryAfter("3600") == .seconds(60))
        #expect(retryAfter("123456789012345678901234567890") == .seconds(60))
        // Not delta-seconds (RFC 9110: digits only) nor a date: the default back-off.
        for junk in [
            "1e20", "inf", "-inf", "NaN", "nan", "-5", "-0.5", "soon", "", "0x10", String(repeating: "9", count: 100),
        ] {
            #expect(retryAfter(junk) == nil, "\(junk)")
        }
    }

    @Test func retryAfterAsAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 784_111_767)  // Sun, 06 Nov 1994 08:49:27 GMT
        #expect(retryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .seconds(10))
        #expect(retryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == .seconds(10))
        #expect(retryAfter("Sun Nov  6 08:49:37 1994", now: now) == .seconds(10))
        #expect(retryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero)  // past
        #expect(retryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now: now) == .seconds(60))
    }

    @Test func a413IsPayloadTooLargeNeverASmallerBatchForGood() {
        let answer = AnswerClassifier.classify(
            status: 413, headers: [], body: Array("<html>Request Entity Too Large</html>".utf8), batch: batch)
        guard case .payloadTooLarge = answer else {
            Issue.record("\(answer)")
            return
        }
    }

    @Test func deeplyNestedAnswersAreUnreadableNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let answer = AnswerClassifier.classify(status: 200, headers: [], body: Array(deep.utf8), batch: batch)
        guard case .badResponse = answer else {
            Issue.record("\(answer)")
            return
        }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    @Test func messagesAreBoundedInScalars() {
        let zalgo = "e" + String(repeating: "\u{0301}", count: 50_000)
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error")
        writer.string(zalgo)
        writer.endObject()
        let answer = AnswerClassifier.classify(status: 500, headers: [], body: writer.bytes, batch: batch)
        guard case .serverError(_, let message) = answer else {
            Issue.record("\(answer)")
            return
        }
        #expect(message.unicodeScalars.count <= AnswerClassifier.maxMessage)
    }

    /// Any bytes at all, under any status: an answer, never a trap or a hang.
    @Test func randomBytesUnderAnyStatusClassifyWithoutCrashing() async {
        await propertyCheck(
            count: 300, input: Gen.int(in: 0...255).array(of: 0...600), Gen.int(in: 100...599)
        ) { bytes, status in
            let body = bytes.map { UInt8($0) }
            _ = AnswerClassifier.classify(
                status: status, headers: [("Retry-After", String(decoding: body.prefix(20), as: UTF8.self))],
                body: body, batch: batch)
        }
    }

    /// Every prefix of a real answer: truncated bodies are unreadable, never a crash.
    @Test func truncatedAnswersClassifyWithoutCrashing() async {
        let full = Array(
            #"{"success":[{"id":"uv_1","referenceId":"ls-1"}],"errors":[{"data":{"phone":"+15551234563","x":[1,2,{"y":null}]},"referenceId":"ls-3","error":"A call attempt has already been made\u0000 to this phone number"}]}"#
                .utf8)
        await propertyCheck(count: 200, input: Gen.int(in: 0...full.count)) { cut in
            let body = Array(full.prefix(cut))
            let answer = AnswerClassifier.classify(status: 200, headers: [], body: body, batch: batch)
            if cut < full.count {
                guard case .badResponse = answer else {
                    Issue.record("prefix \(cut): \(answer)")
                    return
                }
            }
        }
    }

    @Test func theBodyIsCutToTheByteBudgetLeadByLead() throws {
        let leads = (1...50).map {
            Lead(
                id: Int64($0), projectId: "p", phone: "+1555\(1_000_000 + $0)", name: String(repeating: "n", count: 100)
            )
        }
        let whole = BatchPlanner.Batch(mode: .leads, initialize: true, leads: leads)
        let full = RequestBody.encode(whole)
        #expect(RequestBody.encode(whole, maxBytes: .max).count == 50)
        for budget in [200, 1000, 4096, full.count - 1, full.count] {
            let (body, count) = RequestBody.encode(whole, maxBytes: budget)
            #expect(body.count <= budget, "budget \(budget)")
            let parsed = try JSONParser.parse(body)
            #expect(parsed["leads"]?.arrayValue?.count == count)
            // The next lead would not have fitted.
            if count < 50 {
                let more = BatchPlanner.Batch(mode: .leads, initialize: true, leads: Array(leads.prefix(count + 1)))
                #expect(RequestBody.encode(more).count > budget)
            }
        }
        #expect(RequestBody.encode(whole, maxBytes: 100).count == 0)
    }
}
