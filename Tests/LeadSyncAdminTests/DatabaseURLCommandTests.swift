import Testing

/// docs/contract.md §6: a DATABASE_URL parameter LeadSync does not know is a usage error naming it.
@Suite struct DatabaseURLCommandTests {
    @Test(arguments: [["report"], ["migrate"], ["worker", "--once"]])
    func unknownParametersExitTwoNamingThem(_ command: [String]) async throws {
        let result = try await leadsync(command, url: "postgres://u@127.0.0.1:1/db?sslmode=require&sslmdoe=verify-full")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.hasPrefix("leadsync: DATABASE_URL has unknown parameter sslmdoe"), "\(result)")
    }

    @Test func aRootCertificateThatCannotBeReadIsOneLine() async throws {
        let result = try await leadsync(
            ["report"], url: "postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("sslrootcert /nonexistent/ca.pem cannot be read"), "\(result)")
    }
}
