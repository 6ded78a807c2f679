import LeadSyncCore
import Testing
import WireJSON

@testable import UservoxClient

@Suite struct RequestBodyTests {
    @Test func leadsModeCarriesEveryFieldOnce() throws {
        let batch = BatchPlanner.Batch(
            mode: .leads, initialize: false,
            leads: [
                Lead(
                    id: 9, projectId: "p1", processId: "proc", groupId: "g", phone: "+15551234567", email: "a@b.c",
                    name: "Zoë \"Z\"", firstName: "Zoë", lastName: "Q", referenceId: nil, metadata: #"{"tier": 2}"#)
            ])
        let json = try JSONParser.parse(RequestBody.encode(batch))
        let lead = try #require(json["leads"]?.arrayValue?.first)
        #expect(json["init"] == .bool(false))
        #expect(json["leadIds"] == nil)
        #expect(lead["projectId"]?.stringValue == "p1")
        #expect(lead["processId"]?.stringValue == "proc")
        #expect(lead["groupId"]?.stringValue == "g")
        #expect(lead["name"]?.stringValue == "Zoë \"Z\"")
        #expect(lead["firstName"]?.stringValue == "Zoë")
        #expect(lead["lastName"]?.stringValue == "Q")
        #expect(lead["email"]?.stringValue == "a@b.c")
        #expect(lead["referenceId"]?.stringValue == "ls-9")
        #expect(lead["metadata"]?["tier"] == JSONValue.number("2"))
    }

    @Test func leadIdsMode() throws {
        let batch = BatchPlanner.Batch(
            mode: .leadIds, initialize: true,
            leads: [Lead(id: 1, projectId: "p", remoteLeadId: "L-1"), Lead(id: 2, projectId: "p", remoteLeadId: "L-2")])
        #expect(String(decoding: RequestBody.encode(batch), as: UTF8.self) == #"{"leadIds":["L-1","L-2"],"init":true}"#)
    }
}
