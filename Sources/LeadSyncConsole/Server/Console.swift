import Foundation
import HTTPTypes
import Hummingbird
import LeadSyncAdmin
import LeadSyncCore
import LeadSyncStore
import Logging
import NIOCore
import PostgresNIO

/// `leadsync console` (docs/operating.md §19): server-rendered pages over a connection pool.
/// Read-only unless started with a token; then actions are POSTs from a signed-in browser
/// carrying the CSRF field, from this origin only, each one logged.
public struct Console: Sendable {
    public let configuration: ConsoleConfiguration
    let client: PostgresClient
    let logger: Logger
    let auth: ConsoleAuth?

    public init(configuration: ConsoleConfiguration, client: PostgresClient, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.auth = configuration.token.map(ConsoleAuth.init(token:))
    }

    /// The pool's configuration: LeadSync's session settings, and a statement timeout so no
    /// page waits on the database for long.
    public static func clientConfiguration(_ url: DatabaseURL) throws -> PostgresClient.Configuration {
        var config = try url.clientConfiguration(maximumConnections: 4)
        config.options.additionalStartupParameters.append(("statement_timeout", "60s"))
        return config
    }

    /// The application: the pages, the pool as one of its services. `onListening` learns the
    /// port (the one asked for, or the free one port 0 picked).
    public func application(
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: [client], onServerRunning: { await onListening($0.localAddress?.port ?? 0) }, logger: logger)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let console = self
        router.get("/") { request, _ in
            await console.page(request, title: "Overview", nav: .overview) { c in
                let page = try await OverviewPage.load(
                    on: c, configuration: console.configuration, logger: console.logger)
                return (Templates.render("overview", console.body(page, request)), page.generatedAt)
            }
        }
        router.get("/project") { request, _ in
            let fields = FormFields(request.uri.query ?? "")
            guard let id = fields["id"] else {
                return console.message(
                    request, status: .badRequest, heading: "No project", text: "Which project? /project?id=ID")
            }
            return await console.page(request, title: id, nav: .none) { c in
                let page = try await ProjectPage.load(
                    id, on: c, configuration: console.configuration, logger: console.logger)
                return (Templates.render("project", console.body(page, request)), page.generatedAt)
            }
        }
        router.get("/lead") { request, _ in
            let fields = FormFields(request.uri.query ?? "")
            if let text = fields["id"] {
                guard let id = Int64(text), id > 0 else {
                    return console.message(request, status: .badRequest, heading: "Not a lead id", text: text)
                }
                return await console.page(request, title: "Lead \(id)", nav: .none) { c in
                    let detail = try await LeadDetail.load(id, on: c, logger: console.logger)
                    return (Templates.render("lead", console.body(LeadPage.build(detail), request)), nil)
                }
            }
            let query = fields["q"] ?? ""
            return await console.page(request, title: "Find a lead", nav: .none, query: query) { c in
                let ids = try await LeadDetail.find(query, on: c, logger: console.logger)
                if ids.count == 1, let id = ids.first {
                    let detail = try await LeadDetail.load(id, on: c, logger: console.logger)
                    return (Templates.render("lead", console.body(LeadPage.build(detail), request)), nil)
                }
                if ids.isEmpty && !query.isEmpty { throw NoMatch() }
                let page = LeadSearchPage(
                    query: query, matches: ids.map { .init(id: "\($0)", link: "/lead?id=\($0)") })
                return (Templates.render("search", console.body(page, request)), nil)
            }
        }
        for kind in [ListPage.Kind.invalid, .held] {
            router.get(RouterPath("/\(kind.rawValue)")) { request, _ in
                let filter = console.listFilter(kind, request)
                return await console.page(request, title: kind.title, nav: kind == .invalid ? .invalid : .held) { c in
                    let page = try await ListPage.load(
                        kind, filter: filter, on: c, configuration: console.configuration, logger: console.logger)
                    return (Templates.render("list", console.body(page, request)), nil)
                }
            }
            for format in ["csv", "json"] {
                router.get(RouterPath("/\(kind.rawValue).\(format)")) { request, _ in
                    await console.export(kind, format: format, request: request)
                }
            }
        }
        router.get("/assets/console.css") { _, _ in
            Self.asset(Assets.css, type: "text/css; charset=utf-8")
        }
        router.get("/assets/console.js") { _, _ in
            Self.asset(Assets.js, type: "text/javascript; charset=utf-8")
        }
        router.get("/favicon.ico") { _, _ in Response(status: .noContent, headers: Self.securityHeaders) }
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/login") { request, _ in
            guard console.auth != nil else { return console.readOnlyRefusal(request, action: "sign in") }
            return console.html(
                request, status: .ok, title: "Sign in", nav: .none,
                body: Templates.render("login", Body(page: LoginPage(failed: false), actions: nil)))
        }
        router.post("/login") { request, _ in await console.login(request) }
        for action in ConsoleAction.allCases {
            router.post(RouterPath("/actions/\(action.rawValue)")) { request, _ in
                await console.act(action, request)
            }
        }
        return router
    }

    // MARK: pages

    enum Nav { case overview, invalid, held, none }

    /// A search that found no lead: a 404 page.
    struct NoMatch: Error {}

    struct Actions: Sendable {
        var csrf: String
    }

    struct Body<Page: Sendable>: Sendable {
        var page: Page
        var actions: Actions?
    }

    struct LoginPage: Sendable {
        var failed: Bool
    }

    struct MessagePage: Sendable {
        var tone: String
        var heading: String
        var text: String
        var back: String
    }

    struct Layout: Sendable {
        var title: String
        var body: String
        var refresh: Int
        var isOverview: Bool
        var isInvalid: Bool
        var isHeld: Bool
        var query: String
        var mode: String
        var generatedAt: String
        var canSignIn: Bool
        var signedIn: Bool
    }

    func signedIn(_ request: Request) -> Bool {
        guard let auth else { return false }
        return auth.isSession(ConsoleAuth.cookie(ConsoleAuth.cookieName, in: request.headers[.cookie]))
    }

    func body<Page: Sendable>(_ page: Page, _ request: Request) -> Body<Page> {
        Body(page: page, actions: signedIn(request) ? auth.map { Actions(csrf: $0.csrf) } : nil)
    }

    /// Runs `build` on a pooled connection and wraps its HTML in the layout; a lead or project
    /// that does not exist is a 404 page, any other failure a 500 page with one line.
    func page(
        _ request: Request, title: String, nav: Nav, query: String = "",
        _ build: @Sendable (PostgresConnection) async throws -> (String, String?)
    ) async -> Response {
        do {
            let (body, generatedAt) = try await client.withConnection { try await build($0) }
            return html(
                request, status: .ok, title: title, nav: nav, body: body, query: query, generatedAt: generatedAt)
        } catch is NoMatch {
            return message(
                request, status: .notFound, heading: "No lead matches",
                text: "No lead has the id, reference_id or phone “\(query)”.")
        } catch let error as AdminError where error.code == .notFound {
            return message(request, status: .notFound, heading: "Not found", text: error.description)
        } catch {
            let line = StoreError.from(error, doing: "console").description
            logger.error("console page failed", metadata: ["path": "\(request.uri.path)", "error": "\(line)"])
            return message(request, status: .internalServerError, heading: "The page could not be built", text: line)
        }
    }

    func html(
        _ request: Request, status: HTTPResponse.Status, title: String, nav: Nav, body: String, query: String = "",
        generatedAt: String? = nil, headers extra: HTTPFields = [:]
    ) -> Response {
        let signedIn = signedIn(request)
        let layout = Layout(
            title: title, body: body, refresh: configuration.refreshSeconds, isOverview: nav == .overview,
            isInvalid: nav == .invalid, isHeld: nav == .held, query: query,
            mode: auth == nil ? "read-only" : "actions enabled",
            generatedAt: (generatedAt ?? Timestamp.format(configuration.now ?? Date())),
            canSignIn: auth != nil && !signedIn, signedIn: signedIn)
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers.append(contentsOf: extra)
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: Templates.render("layout", layout))))
    }

    func message(
        _ request: Request, status: HTTPResponse.Status, heading: String, text: String, back: String = "/",
        template: String = "message"
    ) -> Response {
        let tone = status.code < 300 ? "good" : status.code < 500 ? "warn" : "bad"
        let page = MessagePage(tone: tone, heading: heading, text: text, back: back)
        return html(
            request, status: status, title: heading, nav: .none,
            body: Templates.render(template, Body(page: page, actions: nil)))
    }

    /// No framing, no sniffing, no referrer, nothing cached; scripts and styles from this
    /// server only (the pages have no inline script or style).
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    static func asset(_ text: String, type: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func listFilter(_ kind: ListPage.Kind, _ request: Request) -> ListPage.Filter {
        let fields = FormFields(request.uri.query ?? "")
        return ListPage.Filter(
            project: fields["project"], reason: fields["reason"].flatMap { kind.reasons.contains($0) ? $0 : nil },
            before: fields["before"].flatMap { Int64($0) })
    }

    // MARK: exports

    /// The CLI's CSV and JSON (`leadsync invalid --format csv|json`), streamed in chunks.
    func export(_ kind: ListPage.Kind, format: String, request: Request) async -> Response {
        let filter = listFilter(kind, request)
        if let project = filter.project {
            do {
                let known = try await client.withConnection { c in
                    try await ProjectAdmin(logger: logger).list(on: c).contains { $0.projectId == project }
                }
                if !known {
                    return message(request, status: .notFound, heading: "Not found", text: "no project '\(project)'")
                }
            } catch {
                return message(
                    request, status: .internalServerError, heading: "The export failed",
                    text: StoreError.from(error, doing: "export").description)
            }
        }
        var headers = Self.securityHeaders
        headers[.contentType] = format == "csv" ? "text/csv; charset=utf-8" : "application/json"
        headers[.contentDisposition] = "attachment; filename=\"\(kind.rawValue).\(format)\""
        let client = self.client
        let exportLogger = self.logger
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var chunk = format == "csv" ? (kind == .invalid ? InvalidList.csvHeader : HeldList.csvHeader) : ""
                var lines = JSONArrayLines()
                func add(_ csv: String, _ json: String) -> Bool {
                    chunk += format == "csv" ? csv : lines.next(json)
                    return chunk.utf8.count >= 64 * 1024
                }
                try await client.withConnection { c in
                    switch kind {
                    case .invalid:
                        try await InvalidList(logger: exportLogger).forEachAsync(
                            on: c, filter: .init(project: filter.project, reason: filter.reason)
                        ) { row in
                            if add(InvalidList.csvRow(row), InvalidList.jsonObject(row)) {
                                try await writer.write(ByteBuffer(string: chunk))
                                chunk = ""
                            }
                        }
                    case .held:
                        try await HeldList(logger: exportLogger).forEachAsync(
                            on: c, project: filter.project, reason: filter.reason
                        ) { row in
                            if add(HeldList.csvRow(row), HeldList.jsonObject(row)) {
                                try await writer.write(ByteBuffer(string: chunk))
                                chunk = ""
                            }
                        }
                    }
                }
                if format == "json" { chunk += lines.end() }
                try await writer.write(ByteBuffer(string: chunk))
                try await writer.finish(nil)
            })
    }

    // MARK: actions

    func readOnlyRefusal(_ request: Request, action: String) -> Response {
        logger.warning("console refused a POST: read-only", metadata: ["path": "\(request.uri.path)"])
        return message(
            request, status: .forbidden, heading: "Read-only console",
            text:
                "This console is read-only, so it cannot \(action). Start it with --allow-actions and LEADSYNC_CONSOLE_TOKEN to pause, resume, release or resubmit."
        )
    }

    /// A browser's POST from another site is refused before anything else (the CSRF field is
    /// the second guard): `Origin`, when sent, must be this host; `Sec-Fetch-Site`, when sent,
    /// same-origin.
    func fromThisOrigin(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin" && site != "none" {
            return false
        }
        if let origin = request.headers[.origin] {
            guard let host = request.head.authority else { return false }
            return origin == "http://\(host)" || origin == "https://\(host)"
        }
        return true
    }

    func form(_ request: Request) async -> FormFields? {
        guard let buffer = try? await request.body.collect(upTo: 64 * 1024) else { return nil }
        return FormFields(String(buffer: buffer))
    }

    func login(_ request: Request) async -> Response {
        guard let auth else { return readOnlyRefusal(request, action: "sign in") }
        guard fromThisOrigin(request) else {
            logger.warning("console refused a sign-in from another origin")
            return message(request, status: .forbidden, heading: "Refused", text: "A sign-in from another site.")
        }
        let fields = await form(request)
        guard let token = fields?["token"], auth.isToken(token) else {
            logger.warning("console refused a sign-in: wrong token")
            return html(
                request, status: .forbidden, title: "Sign in", nav: .none,
                body: Templates.render("login", Body(page: LoginPage(failed: true), actions: nil)))
        }
        logger.notice("console: an operator signed in")
        var headers = Self.securityHeaders
        headers[.location] = "/"
        headers[.setCookie] = "\(ConsoleAuth.cookieName)=\(auth.session); Path=/; HttpOnly; SameSite=Strict"
        return Response(status: .seeOther, headers: headers)
    }

    func act(_ action: ConsoleAction, _ request: Request) async -> Response {
        guard let auth else { return readOnlyRefusal(request, action: action.rawValue) }
        guard fromThisOrigin(request) else {
            logger.warning("console refused an action from another origin", metadata: ["action": "\(action.rawValue)"])
            return message(request, status: .forbidden, heading: "Refused", text: "An action posted from another site.")
        }
        guard signedIn(request) else {
            logger.warning("console refused an action: not signed in", metadata: ["action": "\(action.rawValue)"])
            return message(
                request, status: .forbidden, heading: "Sign in first",
                text: "Actions need the console's token: sign in at /login.", back: "/login")
        }
        guard let fields = await form(request), auth.isCSRF(fields.values["csrf"]) else {
            logger.warning(
                "console refused an action: CSRF field missing or wrong", metadata: ["action": "\(action.rawValue)"])
            return message(
                request, status: .forbidden, heading: "Refused",
                text: "The form's CSRF field is missing or wrong; reload the page and try again.")
        }
        do {
            let outcome = try await client.withConnection { c in
                try await action.perform(fields, on: c, logger: logger)
            }
            logger.notice(
                "console action",
                metadata: [
                    "action": "\(action.rawValue)", "target": "\(outcome.target)", "result": "\(outcome.summary)",
                ])
            return message(
                request, status: .ok, heading: "Done", text: outcome.summary, back: outcome.back,
                template: "actionResult")
        } catch let error as AdminError {
            return refused(action, error, request)
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? AdminError { return refused(action, inner, request) }
            let line = StoreError.from(error, doing: action.rawValue).description
            logger.error("console action failed", metadata: ["action": "\(action.rawValue)", "error": "\(line)"])
            return message(request, status: .internalServerError, heading: "Not done", text: line)
        } catch {
            let line = StoreError.from(error, doing: action.rawValue).description
            logger.error("console action failed", metadata: ["action": "\(action.rawValue)", "error": "\(line)"])
            return message(request, status: .internalServerError, heading: "Not done", text: line)
        }
    }

    /// What the command would refuse, as a page: 404 for a missing project or lead, 409 for a rule.
    func refused(_ action: ConsoleAction, _ error: AdminError, _ request: Request) -> Response {
        logger.warning(
            "console action refused", metadata: ["action": "\(action.rawValue)", "error": "\(error.description)"])
        let status: HTTPResponse.Status =
            switch error.code {
            case .notFound: .notFound
            case .refused: .conflict
            case .failed: .internalServerError
            }
        return message(request, status: status, heading: "Not done", text: error.description)
    }
}
