/// The per-project sliding window (docs/contract.md §4): never more than `limit` request *starts* in
/// any `window`, with a small safety margin, plus back-off and a slower pace after a 429.
/// Pure: the caller passes the time; tests need no clock.
public struct RateLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Settings: Sendable, Equatable {
        public var requests: Int
        public var window: Duration
        /// Requests kept in hand below the limit, and time added to the window: our start
        /// times and the server's arrival times differ by network jitter.
        public var marginRequests: Int
        public var marginWindow: Duration

        public init(
            requests: Int, window: Duration, marginRequests: Int = 1, marginWindow: Duration = .milliseconds(100)
        ) {
            self.requests = requests
            self.window = window
            self.marginRequests = marginRequests
            self.marginWindow = marginWindow
        }
    }

    public private(set) var settings: Settings
    /// Start times inside the current window, oldest first.
    private var starts: [Instant] = []
    private var head = 0
    /// After a 429: nothing starts before this.
    public private(set) var blockedUntil: Instant?
    /// After a 429: the pace is halved until this.
    public private(set) var slowUntil: Instant?
    /// Consecutive 429s, for the growing back-off when no Retry-After is given.
    public private(set) var consecutiveRateLimits = 0
    /// Pacing (GCRA): when the next start is due if starts were spread evenly. Without it a
    /// busy project would spend its whole window in one burst and then wait seconds with
    /// nothing allowed; with it, starts beyond a small burst come every window/limit.
    private var theoreticalArrival: Instant?
    /// Starts allowed back to back before pacing applies: 3, less for small limits, so a
    /// burst never costs a small project a long pause.
    public static func burst(limit: Int) -> Int { max(1, min(3, limit / 10)) }

    public static var slowPeriod: Duration { .seconds(60) }

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Picks up a changed `leadsync.projects` row without forgetting recent starts.
    public mutating func update(settings: Settings) {
        self.settings = settings
    }

    /// Starts allowed per window right now.
    public func effectiveLimit(now: Instant) -> Int {
        var limit = max(1, settings.requests - settings.marginRequests)
        if let slowUntil, now < slowUntil { limit = max(1, limit / 2) }
        return limit
    }

    var effectiveWindow: Duration { settings.window + settings.marginWindow }

    /// Even spacing of starts: a burst plus paced starts never exceed the limit in any
    /// window (burst − 1 + window / spacing ≤ limit), so the window check rarely has to
    /// hold a start back for long.
    func spacing(now: Instant) -> Duration {
        let limit = effectiveLimit(now: now)
        return effectiveWindow / max(1, limit - Self.burst(limit: limit) + 1)
    }

    /// The earliest time a request may start: `now` when it may start at once.
    public mutating func earliestStart(now: Instant) -> Instant {
        dropExpired(now: now)
        var earliest = now
        if let blockedUntil, blockedUntil > earliest { earliest = blockedUntil }
        let limit = effectiveLimit(now: now)
        if let theoreticalArrival {
            let burst = Self.burst(limit: limit)
            let paced = theoreticalArrival.advanced(by: spacing(now: now) * -(burst - 1))
            if paced > earliest { earliest = paced }
        }
        let inWindow = starts.count - head
        if inWindow >= limit {
            // The start that must leave the window before another may begin.
            let freeing = starts[head + (inWindow - limit)].advanced(by: effectiveWindow)
            if freeing > earliest { earliest = freeing }
        }
        return earliest
    }

    /// Records a request start; call only when `earliestStart(now:) <= now`.
    public mutating func recordStart(at now: Instant) {
        starts.append(now)
        let base = theoreticalArrival.map { max($0, now) } ?? now
        theoreticalArrival = base.advanced(by: spacing(now: now))
    }

    /// Seeds the window with starts another worker made (on takeover of a project).
    public mutating func seed(starts earlier: [Instant]) {
        starts = (earlier + starts[head...]).sorted()
        head = 0
    }

    /// docs/contract.md §3: a 429 backs the project off (Retry-After when given, else growing from 5 s)
    /// and slows it for a while.
    public mutating func rateLimited(now: Instant, retryAfter: Duration?) {
        consecutiveRateLimits += 1
        let growing = Duration.seconds(5) * (1 << min(consecutiveRateLimits - 1, 4))
        let wait = retryAfter ?? min(growing, .seconds(60))
        let until = now.advanced(by: wait)
        if blockedUntil.map({ until > $0 }) ?? true { blockedUntil = until }
        slowUntil = now.advanced(by: Self.slowPeriod)
    }

    /// A request that was not answered 429 resets the growing back-off.
    public mutating func succeeded() {
        consecutiveRateLimits = 0
    }

    private mutating func dropExpired(now: Instant) {
        let window = effectiveWindow
        while head < starts.count, starts[head].advanced(by: window) <= now { head += 1 }
        if head > 256 && head * 2 > starts.count {
            starts.removeFirst(head)
            head = 0
        }
    }
}
