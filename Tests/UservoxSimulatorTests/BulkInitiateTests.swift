import Testing
import UservoxSimulator
import WireJSON

/// The API's documented answers, over a real socket.
@Suite struct BulkInitiateTests {
    @Test func missingOrUnknownTokenIs401() async throws {
        try await withSimulator { client in
            for token in [nil, "nope"] {
                let response = try await client.bulk(#"{"leads":[]}"#, token: token)
                #expect(response.status == 401)
                #expect(response.text == #"{"error":"Unauthorized"}"#)
                #expect(response.headers[.contentType] == "application/json")
            }
            let raw = try await client.request(.post, UservoxSimulator.bulkInitiatePath, body: "{}")
            #expect(raw.status == 401)
            #expect(try await client.stats()["unauthorized"]?.intValue == 3)
        }
    }

    @Test func inactiveOrMissingProjectIs403() async throws {
        try await withSimulator { client in
            let inactive = try await client.leads([Lead(projectId: "p3", phone: "+15551230001")], token: "tok-p3")
            #expect(inactive.status == 403)
            #expect(inactive.error == "Project is inactive")
            let missing = try await client.leads([Lead(projectId: "p4", phone: "+15551230001")], token: "tok-p4")
            #expect(missing.status == 403)
            #expect(missing.error == "Project not found")
            #expect(try await client.stat("requests", project: "p3") == 1)
            #expect(try await client.stat("accepted", project: "p3") == 0)
        }
    }

    @Test func badBodiesAre400() async throws {
        try await withSimulator(.testing(maxLeads: 2)) { client in
            let cases: [(String, String)] = [
                ("not json", "Either leadIds or leads array is required"),
                ("[1,2]", "Either leadIds or leads array is required"),
                ("{}", "Either leadIds or leads array is required"),
                (#"{"leads":null}"#, "Either leadIds or leads array is required"),
                (#"{"leads":"x"}"#, "Input must be an array"),
                (#"{"leadIds":{"a":1}}"#, "Input must be an array"),
                (#"{"leads":[{},{},{}]}"#, "Maximum of 2 leads allowed per request"),
                (#"{"leadIds":["a","b","c"]}"#, "Maximum of 2 leads allowed per request"),
                (#"{"leads":[],"init":"yes"}"#, "init must be a boolean"),
            ]
            for (body, message) in cases {
                let response = try await client.bulk(body)
                #expect(response.status == 400, "\(body)")
                #expect(response.error == message, "\(body)")
            }
            let fine = try await client.bulk(#"{"leads":[],"init":false}"#)
            #expect(fine.status == 200)
            #expect(fine.text == #"{"success":[],"errors":[]}"#)
            #expect(try await client.stat("refused") == cases.count)
        }
    }

    @Test func maxLeadsCanBeOverriddenPerProject() async throws {
        var configuration = SimulatorConfiguration.testing(maxLeads: 2)
        configuration.projects["p2"]?.maxLeadsPerRequest = 3
        try await withSimulator(configuration) { client in
            let leads = (1...4).map { Lead(projectId: "p2", phone: "+1555123000\($0)") }
            let response = try await client.leads(leads, token: "tok-p2")
            #expect(response.status == 400)
            #expect(response.error == "Maximum of 3 leads allowed per request")
            #expect(try await client.leads(Array(leads.prefix(3)), token: "tok-p2").status == 200)
        }
    }

    @Test func projectIdMismatchIs403WithTheInvalidLeads() async throws {
        try await withSimulator { client in
            let response = try await client.leads([
                Lead(phone: "+15551230001", referenceId: "ok"),
                Lead(projectId: nil, phone: "+15551230002", referenceId: "none"),
                Lead(projectId: "p2", phone: "+15551230003", referenceId: "other"),
            ])
            #expect(response.status == 403)
            #expect(response.error == "Some leads have missing or invalid projectId")
            let invalid = try #require(response.json?["invalidLeads"]?.arrayValue)
            #expect(invalid.count == 2)
            #expect(invalid[0]["data"]?["referenceId"]?.stringValue == "none")
            #expect(invalid[0]["error"]?.stringValue == "missing projectId")
            #expect(invalid[1]["data"]?["projectId"]?.stringValue == "p2")
            #expect(invalid[1]["error"]?.stringValue == "projectId does not match authenticated project")
            #expect(try await client.stat("accepted") == 0)
            // Nothing was processed: the valid lead is still new.
            let again = try await client.leads([Lead(phone: "+15551230001", referenceId: "ok")])
            #expect(again.success.count == 1)
        }
    }

    @Test func unknownProcessIs404AndNothingIsProcessed() async throws {
        try await withSimulator { client in
            let response = try await client.leads([
                Lead(phone: "+15551230001", processId: "proc-a"),
                Lead(phone: "+15551230002", processId: "proc-x"),
                Lead(phone: "+15551230003", processId: "proc-y"),
            ])
            #expect(response.status == 404)
            #expect(response.error == "Process not found for lead with processId: proc-x")
            #expect(try await client.stat("accepted") == 0)
            // A project without a process list accepts any processId.
            let p2 = try await client.leads(
                [Lead(projectId: "p2", phone: "+15551230002", processId: "whatever")], token: "tok-p2")
            #expect(p2.success.count == 1)
        }
    }

    @Test func perLeadErrorsCarryTheExactMessages() async throws {
        try await withSimulator { client in
            let response = try await client.leads([
                Lead(phone: "+1 (555) 123-4567", referenceId: "a", processId: "proc-a"),
                Lead(phone: nil, referenceId: "b"),
                Lead(phone: "call me", referenceId: "c"),
                Lead(phone: "+1 555 000 0000", referenceId: "d"),
                Lead(phone: "15551234567", referenceId: "e", processId: "proc-a"),
            ])
            #expect(response.status == 200)
            #expect(response.success.count == 1)
            #expect(
                response.errorMessages == [
                    "Invalid phone number format",
                    "Invalid phone number format",
                    "Phone number contains repeating digits pattern",
                    "Lead already exists for this project and process",
                ])
            #expect(response.errors.map { $0["referenceId"]?.stringValue } == ["b", "c", "d", "e"])
            #expect(response.errors[2]["data"]?["phone"]?.stringValue == "+1 555 000 0000")
        }
    }

    @Test func duplicatesAcrossRequestsAndProcesses() async throws {
        try await withSimulator { client in
            let first = try await client.leads([Lead(phone: "+15551234567", referenceId: "1", processId: "proc-a")])
            #expect(first.success.count == 1)
            let second = try await client.leads([
                Lead(phone: "+15551234567", referenceId: "2", processId: "proc-a"),
                Lead(phone: "1-555-123-4567", referenceId: "3", processId: "proc-b"),
                Lead(phone: "+15551234567", referenceId: "4"),
            ])
            #expect(
                second.errorMessages == [
                    "Lead already exists for this project and process",
                    "A call attempt has already been made to this phone number for this project",
                    "A call attempt has already been made to this phone number for this project",
                ])
            // Another project has its own phones.
            let other = try await client.leads([Lead(projectId: "p2", phone: "+15551234567")], token: "tok-p2")
            #expect(other.success.count == 1)
        }
    }

    @Test func successShapeWithoutVersionEchoesTheLead() async throws {
        try await withSimulator { client in
            let body = #"""
                {"leads":[{"projectId":"p1","phone":"+15551230001","referenceId":"r1","name":"Ann",
                           "metadata":{"n":1.50,"tags":["x"]}}],"init":true}
                """#
            let response = try await client.bulk(body)
            #expect(response.status == 200)
            let item = try #require(response.success.first)
            #expect(item["name"]?.stringValue == "Ann")
            #expect(item["metadata"] == .object([("n", .number("1.50")), ("tags", .array([.string("x")]))]))
            #expect(item["referenceId"]?.stringValue == "r1")
            #expect(item["status"]?.stringValue == "initiated")
            #expect(item["id"]?.stringValue?.hasPrefix("uv_") == true)
        }
    }

    @Test func successShapeWithVersion12IsSimplified() async throws {
        try await withSimulator { client in
            let response = try await client.leads(
                [Lead(phone: "+15551230001", referenceId: "r1"), Lead(phone: "+15551230002")], v12: true)
            #expect(response.success.count == 2)
            let keys = response.success.map { $0.objectValue?.map(\.0) ?? [] }
            #expect(keys == [["id", "referenceId", "phone"], ["id", "phone"]])
            #expect(response.success[0]["phone"]?.stringValue == "+15551230001")
        }
    }

    @Test func leadIdsInitiateAcceptedLeadsOnce() async throws {
        try await withSimulator { client in
            let created = try await client.leads([Lead(phone: "+15551230001")], v12: true)
            let id = try #require(created.success.first?["id"]?.stringValue)
            let first = try await client.bulk(#"{"leadIds":["\#(id)","nope"]}"#)
            #expect(first.status == 200)
            #expect(first.success.count == 1)
            #expect(first.success.first?["id"]?.stringValue == id)
            #expect(first.success.first?["leadId"]?.stringValue == id)
            #expect(first.errors.first?["leadId"]?.stringValue == "nope")
            #expect(first.errors.first?["data"]?["leadId"]?.stringValue == "nope")
            #expect(first.errorMessages == ["Lead not found"])
            let second = try await client.bulk(#"{"leadIds":["\#(id)"]}"#)
            #expect(second.errorMessages == ["Lead already exists for this project and process"])
            // Ids belong to their project.
            let elsewhere = try await client.bulk(#"{"leadIds":["\#(id)"]}"#, token: "tok-p2")
            #expect(elsewhere.errorMessages == ["Lead not found"])
        }
    }

    @Test func fullWindowIs429WithRetryAfter() async throws {
        let limit = SimulatorConfiguration.RateLimit(requests: 3, window: .seconds(60))
        try await withSimulator(.testing(rateLimit: limit)) { client in
            for n in 1...3 {
                let response = try await client.leads([Lead(phone: "+1555123000\(n)")])
                #expect(response.status == 200)
            }
            let limited = try await client.leads([Lead(phone: "+15551230009")])
            #expect(limited.status == 429)
            #expect(limited.error == "Too many requests")
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            // Until the first of the three leaves the 60 s window: less the time the calls took.
            #expect((30...60).contains(retryAfter))
            // Refused requests still count as received, so the peak shows the overrun.
            #expect(try await client.stat("requests") == 4)
            #expect(try await client.stat("rateLimited") == 1)
            #expect(try await client.stat("maxRequestsInWindow") == 4)
            #expect(try await client.stat("leadsReceived") == 3)
            // Other projects have their own window.
            #expect(
                try await client.leads([Lead(projectId: "p2", phone: "+15551230001")], token: "tok-p2").status == 200)
        }
    }

    @Test func mostlyDuplicateRequestsBlockTheProject() async throws {
        let protection = SimulatorConfiguration.DuplicateProtection(
            strikes: 2, strikeWindow: .seconds(60), blockDuration: .seconds(30))
        try await withSimulator(.testing(protection: protection)) { client in
            let lead = Lead(phone: "+15551230001", referenceId: "dup")
            #expect(try await client.leads([lead]).success.count == 1)
            // Half duplicates is not "more than half": no strike.
            let half = try await client.leads([lead, Lead(phone: "+15551230002")])
            #expect(half.status == 200)
            #expect(try await client.leads([lead]).status == 200)  // strike 1
            #expect(try await client.leads([lead]).status == 200)  // strike 2: blocked from now
            let blocked = try await client.leads([Lead(phone: "+15551230003")])
            #expect(blocked.status == 429)
            #expect(blocked.error == "Too many requests")
            let retryAfter = try #require(blocked.headers[.retryAfter].flatMap { Int($0) })
            // The 30 s block, less the time the last call took (generous for a loaded machine).
            #expect((15...30).contains(retryAfter))
            #expect(try await client.stat("blocks") == 1)
        }
    }
}
