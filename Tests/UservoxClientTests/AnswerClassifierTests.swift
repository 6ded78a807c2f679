import LeadSyncCore
import Testing

@testable import UservoxClient

/// Every example of the API reference, classified without any I/O.
@Suite struct AnswerClassifierTests {
    let batch = BatchPlanner.Batch(
        mode: .leads, initialize: true,
        leads: [
            Lead(id: 1, projectId: "p", processId: "a", phone: "+15551234561"),
            Lead(id: 2, projectId: "p", processId: "b", phone: "+1 (555) 123-4562", referenceId: "crm-2"),
            Lead(id: 3, projectId: "p", processId: "a", phone: "+15551234563"),
        ])

    func classify(_ status: Int, _ body: String, headers: [(name: String, value: String)] = []) -> APIAnswer {
        AnswerClassifier.classify(status: status, headers: headers, body: Array(body.utf8), batch: batch)
    }

    @Test func successMatchedByReferenceThenPhone() {
        let answer = classify(
            200,
            #"""
            {"success":[{"id":"uv_1","referenceId":"ls-1"},{"id":"uv_2","phone":"+15551234562"}],
             "errors":[{"data":{"phone":"+15551234563"},"referenceId":"ls-3",
                        "error":"A call attempt has already been made to this phone number for this project"}]}
            """#)
        #expect(
            answer
                == .processed([
                    1: .accepted(remoteId: "uv_1"), 2: .accepted(remoteId: "uv_2"),
                    3: .rejected(message: "A call attempt has already been made to this phone number for this project"),
                ]))
    }

    @Test func errorsMatchedThroughTheirData() {
        let answer = classify(
            200,
            #"{"success":[],"errors":[{"data":{"referenceId":"crm-2"},"error":"Phone number contains repeating digits pattern"}]}"#
        )
        #expect(
            answer
                == .processed([
                    1: .unconfirmed, 2: .rejected(message: "Phone number contains repeating digits pattern"),
                    3: .unconfirmed,
                ]))
    }

    @Test func theReferenceExampleShape() {
        // `{"success":[{}],"errors":[{"data":{},"referenceId":"<string>","error":"<string>"}]}`: nothing matches.
        let answer = classify(
            200, #"{"success":[{}],"errors":[{"data":{},"referenceId":"<string>","error":"<string>"}]}"#)
        #expect(answer == .processed([1: .unconfirmed, 2: .unconfirmed, 3: .unconfirmed]))
    }

    @Test func leadIdsMatchedById() {
        let ids = BatchPlanner.Batch(
            mode: .leadIds, initialize: false,
            leads: [Lead(id: 7, projectId: "p", remoteLeadId: "L-7"), Lead(id: 8, projectId: "p", remoteLeadId: "L-8")])
        let answer = AnswerClassifier.classify(
            status: 200, headers: [],
            body: Array(
                #"{"success":[{"id":"L-7"}],"errors":[{"data":{"leadId":"L-8"},"error":"Lead not found"}]}"#.utf8),
            batch: ids)
        #expect(answer == .processed([7: .accepted(remoteId: "L-7"), 8: .rejected(message: "Lead not found")]))
    }

    @Test func badRequests() {
        #expect(
            classify(400, #"{ "error": "Either leadIds or leads array is required" }"#)
                == .badRequest(
                    message: "Either leadIds or leads array is required",
                    body: #"{ "error": "Either leadIds or leads array is required" }"#))
        #expect(
            classify(400, #"{ "error": "Input must be an array" }"#)
                == .badRequest(message: "Input must be an array", body: #"{ "error": "Input must be an array" }"#))
        #expect(
            classify(400, #"{ "error": "Maximum of 1000 leads allowed per request" }"#)
                == .batchTooLarge(maximum: 1000, message: "Maximum of 1000 leads allowed per request"))
        #expect(
            classify(400, #"{ "error": "Maximum of 250 leads allowed per request" }"#)
                == .batchTooLarge(maximum: 250, message: "Maximum of 250 leads allowed per request"))
    }

    @Test func forbidden() {
        let mismatch = #"""
            {"error": "Some leads have missing or invalid projectId",
             "invalidLeads": [{ "data": {}, "error": "missing projectId" },
                              { "data": {}, "error": "projectId does not match authenticated project" }]}
            """#
        #expect(
            classify(403, mismatch)
                == .forbidden(.projectMismatch, message: "Some leads have missing or invalid projectId"))
        #expect(
            classify(403, #"{"error":"Project is inactive"}"#)
                == .forbidden(.projectInactive, message: "Project is inactive"))
        #expect(
            classify(403, #"{"error":"Project not found"}"#)
                == .forbidden(.projectNotFound, message: "Project not found"))
        #expect(classify(401, #"{"error":"Unauthorized"}"#) == .forbidden(.unauthorized, message: "Unauthorized"))
    }

    @Test func processNotFound() {
        #expect(
            classify(404, #"{ "error": "Process not found for lead with processId: proc-9" }"#)
                == .processNotFound(processId: "proc-9", message: "Process not found for lead with processId: proc-9"))
        #expect(classify(404, "Not Found") == .processNotFound(processId: nil, message: "HTTP 404: Not Found"))
    }

    @Test func rateLimited() {
        #expect(
            classify(429, #"{"error":"Too many requests"}"#, headers: [("Retry-After", "12")])
                == .rateLimited(retryAfter: .seconds(12), message: "Too many requests"))
        #expect(classify(429, "") == .rateLimited(retryAfter: nil, message: "HTTP 429 with an empty body"))
    }

    @Test func serverErrors() {
        #expect(
            classify(500, #"{"error":"Internal server error"}"#)
                == .serverError(status: 500, message: "Internal server error"))
        #expect(
            classify(502, "<html>Bad gateway</html>")
                == .serverError(status: 502, message: "HTTP 502: <html>Bad gateway</html>"))
    }

    @Test func answersThatAreNotTheDocumentedShape() {
        guard case .badResponse(200, _) = classify(200, "<html>") else { Issue.record("not JSON"); return }
        guard case .badResponse(200, _) = classify(200, #"{"ok":true}"#) else { Issue.record("wrong shape"); return }
        guard case .badResponse(200, _) = classify(200, #"{"success":"yes"}"#) else {
            Issue.record("wrong type"); return
        }
        guard case .badResponse(200, _) = classify(200, "[]") else { Issue.record("array"); return }
        #expect(APIAnswer.badResponse(status: 200, message: "").isAmbiguous)
    }
}
