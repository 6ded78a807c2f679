import Foundation
import HTTPTypes
import LeadSyncConsole
import LeadSyncStore
import LeadSyncTesting
import Testing

/// Actions with `--allow-actions`: the token signs in, every POST needs the session and the
/// CSRF field and must not come from another site; each does what the CLI command does.
@Suite struct ActionTests {
    @Test func signInSetsAnHttpOnlySessionCookieOnlyForTheToken() async throws {
        try await TestDatabase.with { db in
            try await withConsole(db, token: consoleToken) { client in
                let form = try await client.get("/login")
                #expect(form.status == .ok)
                #expect(form.text.contains(#"<input type="password" id="token" name="token""#))
                let wrong = try await client.post("/login", form: "token=not-the-token-at-all")
                #expect(wrong.status == .forbidden)
                #expect(wrong.headers[.setCookie] == nil)
                #expect(!wrong.text.contains("not-the-token-at-all"))
                let good = try await client.post("/login", form: "token=\(consoleToken)")
                #expect(good.status == .seeOther)
                let cookie = good.headers[.setCookie] ?? ""
                #expect(cookie.hasPrefix("leadsync_console=\(ConsoleAuth(token: consoleToken).session);"))
                #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
                #expect(!cookie.contains(consoleToken))
                let crossSite = try await client.post(
                    "/login", form: "token=\(consoleToken)", headers: [.origin: "http://evil.example"])
                #expect(crossSite.status == .forbidden)
                // Signed in, pages carry the forms and their CSRF field.
                let overview = try await client.get("/", headers: signedIn())
                #expect(overview.text.contains("signed in for actions"))
            }
        }
    }

    @Test func actionsAreRefusedWithoutSessionCSRFOrFromAnotherSite() async throws {
        try await ConsoleSeed.with { db in
            try await withConsole(db, token: consoleToken) { client in
                let noSession = try await client.post("/actions/pause", form: "project=acme&csrf=\(csrf())")
                #expect(noSession.status == .forbidden)
                #expect(noSession.text.contains("Sign in first"))
                let noCSRF = try await client.post("/actions/pause", form: "project=acme", headers: signedIn())
                #expect(noCSRF.status == .forbidden)
                #expect(noCSRF.text.contains("CSRF"))
                let wrongCSRF = try await client.post(
                    "/actions/pause", form: "project=acme&csrf=\(csrf("another-token-0123456"))", headers: signedIn())
                #expect(wrongCSRF.status == .forbidden)
                let oldSession = try await client.post(
                    "/actions/pause", form: "project=acme&csrf=\(csrf())", headers: signedIn("another-token-0123456"))
                #expect(oldSession.status == .forbidden)
                var crossSite = signedIn()
                crossSite[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
                let forged = try await client.post(
                    "/actions/pause", form: "project=acme&csrf=\(csrf())", headers: crossSite)
                #expect(forged.status == .forbidden)
                var otherOrigin = signedIn()
                otherOrigin[.origin] = "http://evil.example"
                #expect(
                    try await client.post("/actions/pause", form: "project=acme&csrf=\(csrf())", headers: otherOrigin)
                        .status == .forbidden)
            }
            #expect(
                try await db.count("SELECT count(*) FROM leadsync.projects WHERE project_id = 'acme' AND paused") == 0)
        }
    }

    @Test func pauseResumeReleaseAndResubmitDoWhatTheCommandsDo() async throws {
        try await ConsoleSeed.with { db in
            try await withConsole(db, token: consoleToken) { client in
                let project = try await client.get("/project?id=acme", headers: signedIn())
                #expect(project.text.contains(#"<input type="hidden" name="csrf" value="\#(csrf())">"#))
                #expect(project.text.contains(#"action="/actions/pause""#))

                let paused = try await client.post(
                    "/actions/pause", form: "project=acme&reason=%3Cb%3Emaintenance%3C%2Fb%3E&csrf=\(csrf())",
                    headers: signedIn())
                #expect(paused.status == .ok)
                #expect(paused.text.contains("paused project acme (&lt;b&gt;maintenance&lt;/b&gt;)"))
                #expect(
                    try await db.count(
                        "SELECT count(*) FROM leadsync.projects WHERE project_id = 'acme' AND paused AND pause_reason = '<b>maintenance</b>'"
                    ) == 1)

                let resumed = try await client.post(
                    "/actions/resume", form: "project=beta&csrf=\(csrf())", headers: signedIn())
                #expect(resumed.status == .ok)
                #expect(resumed.text.contains("released 3 held leads (project_inactive 3)"))
                #expect(
                    try await db.count(
                        "SELECT count(*) FROM leadsync.leads WHERE project_id = 'beta' AND status = 'held'") == 0)

                let released = try await client.post(
                    "/actions/release", form: "project=acme&reason=bad_request&csrf=\(csrf())", headers: signedIn())
                #expect(released.status == .ok)
                #expect(released.text.contains("Released 2 held leads to pending (acme bad_request 2)."))
                #expect(released.text.contains("Project acme is paused"))
                #expect(
                    try await db.count(
                        "SELECT count(*) FROM leadsync.leads WHERE project_id = 'acme' AND held_reason = 'bad_request'")
                        == 0)

                let resubmitted = try await client.post(
                    "/actions/resubmit", form: "id=327&phone=%2B14155557327&process_id=onboarding&csrf=\(csrf())",
                    headers: signedIn())
                #expect(resubmitted.status == .ok)
                #expect(resubmitted.text.contains("lead 327 resubmitted as lead"))
                #expect(
                    try await db.count(
                        "SELECT count(*) FROM leadsync.leads WHERE resubmit_of = 327 AND phone = '+14155557327' AND process_id = 'onboarding'"
                    ) == 1)
                // Refusals come back as pages with the command's own line.
                let twice = try await client.post(
                    "/actions/resubmit", form: "id=326&csrf=\(csrf())", headers: signedIn())
                #expect(twice.status == .conflict)
                #expect(twice.text.contains("already resubmitted as lead 400"))
                let unknown = try await client.post(
                    "/actions/pause", form: "project=nope&csrf=\(csrf())", headers: signedIn())
                #expect(unknown.status == .notFound)
                let badReason = try await client.post(
                    "/actions/release", form: "reason=whatever&csrf=\(csrf())", headers: signedIn())
                #expect(badReason.status == .conflict)
            }
        }
    }

    @Test func readOnlyRoleServesPagesAndAnActionNeedsTheAdminRole() async throws {
        try await ConsoleSeed.with { db in
            try await db.withLoginRole(memberOf: "leadsync_reader") { reader in
                try await withConsole(db, url: reader, token: consoleToken) { client in
                    for path in [
                        "/", "/project?id=acme", "/lead?id=326", "/lead?q=crm-1", "/invalid", "/held", "/held.csv",
                    ] {
                        #expect(try await client.get(path).status == .ok, "\(path)")
                    }
                    let refused = try await client.post(
                        "/actions/pause", form: "project=acme&csrf=\(csrf())", headers: signedIn())
                    #expect(refused.status == .internalServerError)
                    #expect(refused.text.contains("permission denied"))
                }
            }
            try await db.withLoginRole(memberOf: "leadsync_admin") { admin in
                try await withConsole(db, url: admin, token: consoleToken) { client in
                    let done = try await client.post(
                        "/actions/pause", form: "project=acme&csrf=\(csrf())", headers: signedIn())
                    #expect(done.status == .ok)
                }
            }
            #expect(
                try await db.count("SELECT count(*) FROM leadsync.projects WHERE project_id = 'acme' AND paused") == 1)
        }
    }
}
