import WireJSON

/// What the simulator pretends Uservox is: projects behind tokens, limits, duplicate
/// protection and injected faults (docs/contract.md §8). Read from a JSON file or built in code.
public struct SimulatorConfiguration: Sendable {
    /// The documented default: at most 1000 leads per request.
    public var maxLeadsPerRequest: Int
    /// The documented default: about 100 requests per 5 seconds per project.
    public var rateLimit: RateLimit
    /// Projects by id.
    public var projects: [String: Project]
    public var faults: Faults
    public var duplicateProtection: DuplicateProtection
    /// Like a proxy's body limit (often 1 MiB): larger request bodies are answered 413.
    public var maxRequestBytes: Int?

    public init(
        maxLeadsPerRequest: Int = 1000,
        rateLimit: RateLimit = RateLimit(requests: 100, window: .seconds(5)),
        projects: [Project] = [],
        faults: Faults = Faults(),
        duplicateProtection: DuplicateProtection = DuplicateProtection()
    ) {
        self.maxLeadsPerRequest = maxLeadsPerRequest
        self.rateLimit = rateLimit
        self.projects = Dictionary(projects.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.faults = faults
        self.duplicateProtection = duplicateProtection
    }

    /// At most `requests` accepted requests in any `window`.
    public struct RateLimit: Sendable, Equatable {
        public var requests: Int
        public var window: Duration

        public init(requests: Int, window: Duration) {
            self.requests = requests
            self.window = window
        }
    }

    /// One Uservox project and the token that authenticates as it.
    public struct Project: Sendable, Equatable {
        public var id: String
        public var token: String
        /// Inactive projects answer 403 "Project is inactive".
        public var active: Bool
        /// `false` answers 403 "Project not found" (a token that points nowhere).
        public var exists: Bool
        /// Known process ids; `nil` accepts any processId.
        public var processes: Set<String>?
        /// Overrides the simulator-wide value for this project.
        public var maxLeadsPerRequest: Int?
        /// Overrides the simulator-wide value for this project.
        public var rateLimit: RateLimit?

        public init(
            id: String,
            token: String,
            active: Bool = true,
            exists: Bool = true,
            processes: Set<String>? = nil,
            maxLeadsPerRequest: Int? = nil,
            rateLimit: RateLimit? = nil
        ) {
            self.id = id
            self.token = token
            self.active = active
            self.exists = exists
            self.processes = processes
            self.maxLeadsPerRequest = maxLeadsPerRequest
            self.rateLimit = rateLimit
        }
    }

    /// Random faults, drawn from a generator seeded with `seed` so a run can be repeated.
    public struct Faults: Sendable, Equatable {
        /// Share of requests answered 500 without processing.
        public var errorRate: Double
        /// Share of requests whose connection is closed without an answer or processing.
        public var dropRate: Double
        /// Share of requests processed fully, then answered 500.
        public var processedThen500Rate: Double
        /// Added before every answer to a request that passed auth and the rate limit.
        public var latency: Duration
        /// How long a scripted "hang" holds its request before dropping the connection.
        public var hang: Duration
        public var seed: UInt64

        public init(
            errorRate: Double = 0,
            dropRate: Double = 0,
            processedThen500Rate: Double = 0,
            latency: Duration = .zero,
            hang: Duration = .seconds(60),
            seed: UInt64 = 1
        ) {
            self.errorRate = errorRate
            self.dropRate = dropRate
            self.processedThen500Rate = processedThen500Rate
            self.latency = latency
            self.hang = hang
            self.seed = seed
        }
    }

    /// The API blocks keys that keep sending duplicates: `strikes` requests that are mostly
    /// duplicates within `strikeWindow` block the project for `blockDuration`.
    public struct DuplicateProtection: Sendable, Equatable {
        /// 0 turns the protection off.
        public var strikes: Int
        public var strikeWindow: Duration
        public var blockDuration: Duration

        public init(strikes: Int = 3, strikeWindow: Duration = .seconds(60), blockDuration: Duration = .seconds(30)) {
            self.strikes = strikes
            self.strikeWindow = strikeWindow
            self.blockDuration = blockDuration
        }
    }

    /// The limits that apply to one project, overrides resolved.
    func maxLeads(for project: Project) -> Int { project.maxLeadsPerRequest ?? maxLeadsPerRequest }
    func rateLimit(for project: Project) -> RateLimit { project.rateLimit ?? rateLimit }

    /// Token → project id; a token used twice is a configuration error.
    func tokenIndex() throws(SimulatorError) -> [String: String] {
        var index: [String: String] = [:]
        for project in projects.values.sorted(by: { $0.id < $1.id }) {
            if let other = index[project.token] {
                throw SimulatorError(.invalidConfiguration, "projects \(other) and \(project.id) share a token")
            }
            index[project.token] = project.id
        }
        return index
    }
}

// MARK: - JSON

extension SimulatorConfiguration {
    /// Reads a configuration file. Every key is optional; unknown keys are refused, "_x" keys are comments:
    /// ```json
    /// {"maxLeadsPerRequest": 1000, "rateLimit": {"requests": 100, "windowSeconds": 5},
    ///  "projects": {"p1": {"token": "tok-p1", "active": true, "processes": ["proc-a"],
    ///                      "maxLeadsPerRequest": 500, "rateLimit": {"requests": 10, "windowSeconds": 1}},
    ///               "p2": {"token": "tok-p2", "exists": false}},
    ///  "faults": {"errorRate": 0, "dropRate": 0, "processedThen500Rate": 0, "latencyMs": 0,
    ///             "hangSeconds": 60, "seed": 1},
    ///  "block": {"strikes": 3, "strikeWindowSeconds": 60, "blockSeconds": 30}}
    /// ```
    public static func parse(json bytes: some Collection<UInt8>) throws(SimulatorError) -> SimulatorConfiguration {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw SimulatorError(.invalidConfiguration, "\(error)")
        }
        var configuration = SimulatorConfiguration()
        try configuration.apply(json: document)
        return configuration
    }

    /// Replaces what `document` mentions and keeps the rest; `POST /_sim/config` uses it.
    public mutating func apply(json document: JSONValue) throws(SimulatorError) {
        let members = try Self.object(document, "configuration")
        try Self.checkKeys(
            members, ["maxLeadsPerRequest", "rateLimit", "projects", "faults", "block"], in: "configuration")
        var copy = self
        for (key, value) in members {
            switch key {
            case "maxLeadsPerRequest": copy.maxLeadsPerRequest = try Self.positiveInt(value, key)
            case "rateLimit": copy.rateLimit = try Self.rateLimit(value, key)
            case "projects":
                var projects: [String: Project] = [:]
                for (id, entry) in try Self.object(value, key) {
                    projects[id] = try Self.project(id: id, entry)
                }
                copy.projects = projects
            case "faults": copy.faults = try Self.faults(value, base: Faults())
            case "block": copy.duplicateProtection = try Self.protection(value)
            case "maxRequestBytes": copy.maxRequestBytes = try Self.positiveInt(value, key)
            default: break
            }
        }
        _ = try copy.tokenIndex()
        self = copy
    }

    static func project(id: String, _ value: JSONValue) throws(SimulatorError) -> Project {
        let where_ = "projects.\(id)"
        let members = try object(value, where_)
        try checkKeys(
            members, ["token", "active", "exists", "processes", "maxLeadsPerRequest", "rateLimit"], in: where_)
        guard let token = value["token"]?.stringValue, !token.isEmpty else {
            throw SimulatorError(.invalidConfiguration, "\(where_).token must be a non-empty string")
        }
        var project = Project(id: id, token: token)
        if let active = value["active"] { project.active = try bool(active, "\(where_).active") }
        if let exists = value["exists"] { project.exists = try bool(exists, "\(where_).exists") }
        if let processes = value["processes"], !processes.isNull {
            guard let list = processes.arrayValue else {
                throw SimulatorError(.invalidConfiguration, "\(where_).processes must be an array of strings")
            }
            var ids = Set<String>()
            for item in list {
                guard let text = item.scalarText else {
                    throw SimulatorError(.invalidConfiguration, "\(where_).processes must be an array of strings")
                }
                ids.insert(text)
            }
            project.processes = ids
        }
        if let max = value["maxLeadsPerRequest"], !max.isNull {
            project.maxLeadsPerRequest = try positiveInt(max, "\(where_).maxLeadsPerRequest")
        }
        if let limit = value["rateLimit"], !limit.isNull {
            project.rateLimit = try rateLimit(limit, "\(where_).rateLimit")
        }
        return project
    }

    static func rateLimit(_ value: JSONValue, _ where_: String) throws(SimulatorError) -> RateLimit {
        let members = try object(value, where_)
        try checkKeys(members, ["requests", "windowSeconds"], in: where_)
        guard let requestsValue = value["requests"], let windowValue = value["windowSeconds"] else {
            throw SimulatorError(.invalidConfiguration, "\(where_) needs requests and windowSeconds")
        }
        let requests = try positiveInt(requestsValue, "\(where_).requests")
        let window = try seconds(windowValue, "\(where_).windowSeconds")
        guard window > .zero else {
            throw SimulatorError(.invalidConfiguration, "\(where_).windowSeconds must be > 0")
        }
        return RateLimit(requests: requests, window: window)
    }

    /// Fault settings; keys absent keep `base`. Also reads `POST /_sim/faults` bodies.
    static func faults(_ value: JSONValue, base: Faults, extraKeys: Set<String> = []) throws(SimulatorError)
        -> Faults
    {
        let members = try object(value, "faults")
        let known: Set<String> = [
            "errorRate", "dropRate", "processedThen500Rate", "latencyMs", "hangSeconds", "seed",
        ]
        try checkKeys(members, known.union(extraKeys), in: "faults")
        var faults = base
        for (key, member) in members {
            switch key {
            case "errorRate": faults.errorRate = try rate(member, key)
            case "dropRate": faults.dropRate = try rate(member, key)
            case "processedThen500Rate": faults.processedThen500Rate = try rate(member, key)
            case "latencyMs": faults.latency = try seconds(member, key, scale: 0.001)
            case "hangSeconds": faults.hang = try seconds(member, key)
            case "seed":
                guard let text = member.scalarText, let seed = UInt64(text) else {
                    throw SimulatorError(.invalidConfiguration, "faults.seed must be a non-negative integer")
                }
                faults.seed = seed
            default: break
            }
        }
        return faults
    }

    static func protection(_ value: JSONValue) throws(SimulatorError) -> DuplicateProtection {
        if value.isNull { return DuplicateProtection(strikes: 0) }
        let members = try object(value, "block")
        try checkKeys(members, ["strikes", "strikeWindowSeconds", "blockSeconds"], in: "block")
        var protection = DuplicateProtection()
        for (key, member) in members {
            switch key {
            case "strikes":
                guard let strikes = member.intValue, strikes >= 0 else {
                    throw SimulatorError(.invalidConfiguration, "block.strikes must be an integer ≥ 0")
                }
                protection.strikes = strikes
            case "strikeWindowSeconds": protection.strikeWindow = try seconds(member, "block.\(key)")
            case "blockSeconds": protection.blockDuration = try seconds(member, "block.\(key)")
            default: break
            }
        }
        return protection
    }

    // MARK: Field readers

    static func object(_ value: JSONValue, _ where_: String) throws(SimulatorError) -> [(String, JSONValue)] {
        guard let members = value.objectValue else {
            throw SimulatorError(.invalidConfiguration, "\(where_) must be an object")
        }
        return members
    }

    /// Unknown keys are typos; keys starting with "_" are comments.
    static func checkKeys(_ members: [(String, JSONValue)], _ known: Set<String>, in where_: String)
        throws(SimulatorError)
    {
        for (key, _) in members where !known.contains(key) && !key.hasPrefix("_") {
            throw SimulatorError(.invalidConfiguration, "unknown key \(where_).\(key)")
        }
    }

    static func positiveInt(_ value: JSONValue, _ where_: String) throws(SimulatorError) -> Int {
        guard let number = value.intValue, number > 0 else {
            throw SimulatorError(.invalidConfiguration, "\(where_) must be a positive integer")
        }
        return number
    }

    static func bool(_ value: JSONValue, _ where_: String) throws(SimulatorError) -> Bool {
        guard let flag = value.boolValue else {
            throw SimulatorError(.invalidConfiguration, "\(where_) must be true or false")
        }
        return flag
    }

    static func rate(_ value: JSONValue, _ where_: String) throws(SimulatorError) -> Double {
        guard case .number(let text) = value, let rate = Double(text), (0...1).contains(rate) else {
            throw SimulatorError(.invalidConfiguration, "\(where_) must be a number from 0 to 1")
        }
        return rate
    }

    static func seconds(_ value: JSONValue, _ where_: String, scale: Double = 1) throws(SimulatorError) -> Duration {
        guard case .number(let text) = value, let number = Double(text), number >= 0, number.isFinite else {
            throw SimulatorError(.invalidConfiguration, "\(where_) must be a number ≥ 0")
        }
        return .seconds(number * scale)
    }
}
