import PostgresNIO
import Testing

@testable import LeadSyncStore

/// DATABASE_URL's sslmode as libpq defines it (docs/contract.md §6).
@Suite struct DatabaseURLTests {
    @Test func preferIsTheDefault() throws {
        let url = try DatabaseURL("postgres://u@db.internal/crm")
        #expect(url.tlsMode == .prefer)
        #expect(try url.tlsConfiguration()?.certificateVerification == CertificateVerification.none)
    }

    @Test(arguments: DatabaseURL.TLSMode.allCases)
    func everyLibpqModeParses(_ mode: DatabaseURL.TLSMode) throws {
        #expect(try DatabaseURL("postgres://u@db/crm?sslmode=\(mode.rawValue)").tlsMode == mode)
    }

    @Test func whatEachModeVerifies() throws {
        func verification(_ query: String) throws -> CertificateVerification? {
            try DatabaseURL("postgres://u@db/crm?\(query)").tlsConfiguration()?.certificateVerification
        }
        #expect(try verification("sslmode=disable") == nil)
        #expect(try verification("sslmode=allow") == CertificateVerification.none)
        #expect(try verification("sslmode=require") == CertificateVerification.none)
        // libpq: require with a root certificate is verify-ca.
        #expect(try verification("sslmode=require&sslrootcert=system") == .noHostnameVerification)
        #expect(try verification("sslmode=verify-ca") == .noHostnameVerification)
        #expect(try verification("sslmode=verify-full") == .fullVerification)
        #expect(try verification("sslmode=verify-full&sslrootcert=system") == .fullVerification)
    }

    @Test func unknownParametersAreNamed() throws {
        let error = #expect(throws: StoreError.self) {
            try DatabaseURL("postgres://u@db/crm?sslmode=require&sslmdoe=verify-full&connect_timeout=5")
        }
        #expect(error?.code == .badURLParameter)
        #expect(error?.description.contains("sslmdoe, connect_timeout") == true, "\(String(describing: error))")
    }

    @Test func anUnknownSslmodeIsRefused() throws {
        let error = #expect(throws: StoreError.self) { try DatabaseURL("postgres://u@db/crm?sslmode=verify") }
        #expect(error?.code == .badURLParameter)
        #expect(error?.description.contains("unknown sslmode 'verify'") == true)
    }

    @Test func certificateAndKeyGoTogether() {
        #expect(throws: StoreError.self) { try DatabaseURL("postgres://u@db/crm?sslmode=require&sslcert=/a.pem") }
        #expect(throws: StoreError.self) { try DatabaseURL("postgres://u@db/crm?sslmode=disable&sslrootcert=/ca.pem") }
    }

    @Test func aMissingRootCertificateFailsInOneLineBeforeConnecting() throws {
        let url = try DatabaseURL("postgres://u@db/crm?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        #expect(url.sslRootCert == "/nonexistent/ca.pem")
        let error = #expect(throws: StoreError.self) { try url.tlsConfiguration() }
        #expect(error?.description == "DATABASE_URL sslrootcert /nonexistent/ca.pem cannot be read")
    }

    @Test func aUnixSocketStillParses() throws {
        let url = try DatabaseURL("postgres://u@/crm?host=/var/run/postgresql&sslmode=disable")
        #expect(url.unixSocketDirectory == "/var/run/postgresql")
        #expect(url.tlsMode == .disable)
    }
}
