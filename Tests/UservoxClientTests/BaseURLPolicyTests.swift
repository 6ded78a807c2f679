import Testing

@testable import UservoxClient

@Suite struct BaseURLPolicyTests {
    @Test(arguments: ["https://crm.uservox.ai", "https://10.0.0.5:8443/", "HTTPS://crm.uservox.ai"])
    func httpsIsAccepted(_ url: String) throws {
        #expect(try BaseURLPolicy.check(url, allowInsecure: false) == .encrypted)
    }

    @Test(arguments: [
        "http://127.0.0.1:8089", "http://127.1.2.3", "http://localhost:8089", "http://LOCALHOST.", "http://[::1]:8089",
    ])
    func httpToLoopbackIsAccepted(_ url: String) throws {
        #expect(try BaseURLPolicy.check(url, allowInsecure: false) == .loopback)
    }

    @Test(arguments: [
        "http://crm.uservox.ai", "http://10.0.0.5:8080", "http://127.0.0.1.example.com", "http://[::2]",
        "http://128.0.0.1", "http://user:secret@crm.example.com/?token=abc",
    ])
    func httpElsewhereIsRefusedInOneLine(_ url: String) throws {
        let refusal = #expect(throws: BaseURLPolicy.Refusal.self) {
            try BaseURLPolicy.check(url, allowInsecure: false)
        }
        let line = try #require(refusal?.description)
        #expect(!line.contains("\n"))
        #expect(line.contains("not a loopback host"))
        // The user info and query of the URL are never repeated.
        #expect(!line.contains("secret") && !line.contains("abc"))
    }

    @Test func httpElsewhereWithTheFlagIsAllowedButFlagged() throws {
        #expect(try BaseURLPolicy.check("http://crm.example.com", allowInsecure: true) == .insecureAllowed)
    }

    @Test(arguments: ["ftp://crm.uservox.ai", "crm.uservox.ai", "https://", ""])
    func otherSchemesAndNonURLsAreRefused(_ url: String) {
        #expect(throws: BaseURLPolicy.Refusal.self) { try BaseURLPolicy.check(url, allowInsecure: true) }
    }
}
