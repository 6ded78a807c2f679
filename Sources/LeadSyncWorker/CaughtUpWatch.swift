/// Whether a lane's next plain claim (no gap scan, no retries) can be answered "nothing
/// new" without asking the database (docs/operating.md §21).
///
/// A lane's last look came back short, read every arrival row of its project and left no
/// range to scan: every lead committed before that look was found. A lead committed since
/// comes with a notification of its project (the leads' trigger), which wakes the lane
/// (`WakeSignal.route`). So until a notification comes, looking again at once finds
/// nothing, and a short-lived lane (a few leads, then its final scan) would read the same
/// empty rows two or three more times. The answer holds for `interval` (the sweep
/// interval) only, so a lane whose notification was lost (the LISTEN connection down)
/// still looks as often as an idle lane does; the gap scan before idling, and every look
/// for retries, always asks.
struct CaughtUpWatch<Instant: InstantProtocol & Sendable>: Sendable where Instant.Duration == Duration {
    let interval: Duration
    /// When the last look that saw everything was made; nil after a notification or a look
    /// that may have left something.
    private var sawEverythingAt: Instant?

    init(interval: Duration) { self.interval = interval }

    /// A notification of the project was taken: the next claim looks.
    mutating func notified() { sawEverythingAt = nil }

    /// A look ended at `now`: `complete` when it came back short, read all of the project's
    /// arrival rows and left no range to scan.
    mutating func looked(complete: Bool, at now: Instant) {
        sawEverythingAt = complete ? now : nil
    }

    /// Whether a plain claim at `now` would find nothing new.
    func knowsNothingArrived(now: Instant) -> Bool {
        guard let seen = sawEverythingAt else { return false }
        return seen.duration(to: now) < interval
    }
}
