import Foundation
import LeadSyncTesting
import PostgresNIO
import Testing

@testable import LeadSyncStore

/// sslmode against a real PostgreSQL with TLS on, its certificate signed by a CA this test
/// makes with the OpenSSL CLI (nothing checked in): docs/contract.md §6, libpq's meaning.
@Suite(.serialized) struct TLSTests {
    let logger = TestDatabase.logger

    /// Whether the session `url` opens is encrypted; a failure comes back as its one line.
    func encrypted(_ url: String) async -> Result<Bool, StoreError> {
        do {
            let parsed = try DatabaseURL(url)
            let ssl = try await parsed.withConnection(logger: logger) { c in
                try await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
                    .collect().first?.decode(Bool.self)
            }
            return .success(ssl == true)
        } catch let error as StoreError {
            return .failure(error)
        } catch {
            return .failure(StoreError(.query, "\(error)"))
        }
    }

    /// Runs openssl in `dir` (a subshell: ManagedProcess starts at once, in our directory).
    func openssl(_ arguments: [String], in dir: String) async throws {
        let quoted = arguments.map { "'\($0.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: " ")
        let process = try ManagedProcess(
            "/bin/sh", arguments: ["-c", "cd '\(dir)' && exec /usr/bin/openssl \(quoted)"], environment: [:])
        let status = try await process.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "openssl \(arguments.joined(separator: " ")): \(process.standardError)")
    }

    /// A CA, a server certificate it signed for `localhost` only, a client certificate it
    /// signed for the role `lt_cert`, and a CA nobody used.
    func makeCertificates(in dir: String) async throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".write(
            toFile: "\(dir)/server.ext", atomically: true, encoding: .utf8)
        for (name, subject) in [("ca", "/CN=LeadSync Test CA"), ("wrong-ca", "/CN=Someone Else's CA")] {
            try await openssl(
                ["req", "-x509"] + ec + [
                    "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", subject,
                ],
                in: dir)
        }
        try await openssl(
            ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], in: dir)
        try await openssl(
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                "server.crt", "-days", "2", "-extfile", "server.ext",
            ], in: dir)
        try "extendedKeyUsage=clientAuth\n".write(toFile: "\(dir)/client.ext", atomically: true, encoding: .utf8)
        try await openssl(
            ["req"] + ec + ["-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=lt_cert"], in: dir)
        try await openssl(
            [
                "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                "client.crt", "-days", "2", "-extfile", "client.ext",
            ], in: dir)
    }

    /// Puts the certificate into the server's data folder (the server runs as `postgres`
    /// and wants its key private) and turns TLS on with a reload. The role `lt_cert` must
    /// log in with a client certificate the CA signed.
    func enableTLS(on server: PrivateServer, certificates dir: String) async throws {
        let owner = getpwnam("postgres")
        for file in ["server.crt", "server.key", "ca.pem"] {
            let target = "\(server.directory)/\(file)"
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: "\(dir)/\(file)", toPath: target)
            if let owner { chown(target, owner.pointee.pw_uid, owner.pointee.pw_gid) }
            chmod(target, 0o600)
        }
        let admin = try DatabaseURL(server.url.urlString + "?sslmode=disable")
        try await admin.withConnection(logger: logger) { c in
            try await c.query("ALTER SYSTEM SET ssl_cert_file = 'server.crt'", logger: logger)
            try await c.query("ALTER SYSTEM SET ssl_key_file = 'server.key'", logger: logger)
            try await c.query("ALTER SYSTEM SET ssl_ca_file = 'ca.pem'", logger: logger)
            try await c.query("ALTER SYSTEM SET ssl = on", logger: logger)
            try await c.query("CREATE ROLE lt_cert LOGIN", logger: logger)
            let hba = "\(server.directory)/pg_hba.conf"
            let rules = (try? String(contentsOfFile: hba, encoding: .utf8)) ?? ""
            try ("hostssl all lt_cert 127.0.0.1/32 cert\nhostssl all lt_cert ::1/128 cert\n" + rules).write(
                toFile: hba, atomically: false, encoding: .utf8)
            try await c.query("SELECT pg_reload_conf()", logger: logger)
        }
        try await waitUntil("TLS on") {
            try await admin.withConnection(logger: logger) { c in
                try await c.query("SHOW ssl", logger: logger).collect().first?.decode(String.self) == "on"
            }
        }
    }

    @Test func theSslmodeMatrix() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-tls-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await makeCertificates(in: dir)

        // A server without TLS: require refuses it, prefer (the default) and allow fall back.
        let plain = try TestDatabase.serverURL()
        let plainBase = "postgres://\(plain.username)@\(plain.host):\(plain.port)/\(plain.database)"
        if case .success(true) = await encrypted(plainBase + "?sslmode=disable") {
            Issue.record("the shared test server has TLS on; this test needs it off")
        }
        let refused = await encrypted(plainBase + "?sslmode=require")
        guard case .failure(let noTLS) = refused else {
            Issue.record("require connected to a server without TLS: \(refused)")
            return
        }
        #expect(noTLS.description.contains("does not offer TLS"), "\(noTLS)")
        #expect(!noTLS.description.contains("\n"))
        #expect(try await encrypted(plainBase + "?sslmode=prefer").get() == false)

        let server = try await PrivateServer()
        do {
            try await enableTLS(on: server, certificates: dir)
            let byName = "postgres://postgres@localhost:\(server.port)/leadsync"
            let byAddress = "postgres://postgres@127.0.0.1:\(server.port)/leadsync"
            let ca = "sslrootcert=\(dir)/ca.pem"
            let wrongCA = "sslrootcert=\(dir)/wrong-ca.pem"

            // The right CA and host name.
            #expect(try await encrypted("\(byName)?sslmode=verify-full&\(ca)").get() == true)
            // verify-ca checks the chain, not the name.
            #expect(try await encrypted("\(byAddress)?sslmode=verify-ca&\(ca)").get() == true)
            // require without a CA encrypts without verifying anything (libpq).
            #expect(try await encrypted("\(byAddress)?sslmode=require").get() == true)
            #expect(try await encrypted("\(byAddress)?sslmode=prefer").get() == true)
            #expect(try await encrypted("\(byAddress)?sslmode=disable").get() == false)

            // The wrong CA, and the right CA for the wrong name, fail in one clear line.
            for (url, what) in [
                ("\(byName)?sslmode=verify-full&\(wrongCA)", "not trusted"),
                ("\(byName)?sslmode=verify-ca&\(wrongCA)", "not trusted"),
                // libpq: require with a root certificate verifies the chain.
                ("\(byName)?sslmode=require&\(wrongCA)", "not trusted"),
                ("\(byAddress)?sslmode=verify-full&\(ca)", "host name"),
                // No sslrootcert: the system store, which does not know the test's CA.
                ("\(byName)?sslmode=verify-full", "not trusted"),
            ] {
                let result = await encrypted(url)
                guard case .failure(let error) = result else {
                    Issue.record("\(url) connected: \(result)")
                    continue
                }
                #expect(error.description.contains(what), "\(url): \(error)")
                #expect(!error.description.contains("\n"), "\(url): \(error)")
            }

            // A role that must present a client certificate: with sslcert and sslkey it gets in.
            let client = "sslcert=\(dir)/client.crt&sslkey=\(dir)/client.key"
            let certUser = "postgres://lt_cert@localhost:\(server.port)/leadsync?sslmode=verify-full&\(ca)"
            #expect(try await encrypted("\(certUser)&\(client)").get() == true)
            let withoutCertificate = await encrypted(certUser)
            guard case .failure(let noCertificate) = withoutCertificate else {
                Issue.record("lt_cert got in without a client certificate")
                return
            }
            #expect(noCertificate.description.contains("certificate"), "\(noCertificate)")

            // The pool (the worker's path) verifies the same way.
            let pooled = TestDatabase(url: try DatabaseURL("\(byName)?sslmode=verify-full&\(ca)"), logger: logger)
            let ssl = try await pooled.withClient { client in
                try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
                    .collect().first?.decode(Bool.self)
            }
            #expect(ssl == true)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
