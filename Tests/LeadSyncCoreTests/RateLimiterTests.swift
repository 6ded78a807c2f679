import Testing

@testable import LeadSyncCore

/// A clock-free instant for exact tests.
struct FakeInstant: InstantProtocol, Sendable {
    var offset: Duration
    func advanced(by duration: Duration) -> FakeInstant { FakeInstant(offset: offset + duration) }
    func duration(to other: FakeInstant) -> Duration { other.offset - offset }
    static func < (a: FakeInstant, b: FakeInstant) -> Bool { a.offset < b.offset }
    static func seconds(_ s: Double) -> FakeInstant { FakeInstant(offset: .milliseconds(Int(s * 1000))) }
}

@Suite struct RateLimiterTests {
    let settings = RateLimiter<FakeInstant>.Settings(
        requests: 5, window: .seconds(5), marginRequests: 1, marginWindow: .milliseconds(100))

    @Test func neverMoreThanTheLimitMinusMarginInAnyWindow() {
        var limiter = RateLimiter<FakeInstant>(settings: settings)
        var now = FakeInstant.seconds(0)
        var starts: [FakeInstant] = []
        for _ in 0..<40 {
            let at = limiter.earliestStart(now: now)
            now = max(now, at)
            limiter.recordStart(at: now)
            starts.append(now)
        }
        // Any 5.1 s window holds at most 4 starts.
        for (i, start) in starts.enumerated() {
            let inWindow = starts[i...].prefix { $0 < start.advanced(by: .milliseconds(5100)) }.count
            #expect(inWindow <= 4)
        }
        // And it is not slower than it must be: evenly paced at the limit, 5.1 s / 4 apart.
        #expect(now <= .seconds(39 * 5.1 / 4 + 0.01))
    }

    @Test func aSmallLimitIsPacedEvenly() {
        var limiter = RateLimiter<FakeInstant>(settings: settings)
        #expect(limiter.earliestStart(now: .seconds(1)) == .seconds(1))
        limiter.recordStart(at: .seconds(1))
        // 4 per 5.1 s: one every 1.275 s, never a burst then a long wait.
        #expect(limiter.earliestStart(now: .seconds(1)) == .seconds(2.275))
        for at in [2.275, 3.55, 4.825] { limiter.recordStart(at: .seconds(at)) }
        #expect(limiter.earliestStart(now: .seconds(4.825)) == .seconds(6.1))
    }

    @Test func rateLimitedBacksOffThenSlowsDown() {
        var limiter = RateLimiter<FakeInstant>(settings: .init(requests: 101, window: .seconds(5)))
        limiter.rateLimited(now: .seconds(10), retryAfter: .seconds(3))
        #expect(limiter.earliestStart(now: .seconds(10)) == .seconds(13))
        #expect(limiter.effectiveLimit(now: .seconds(13)) == 50)
        #expect(limiter.effectiveLimit(now: .seconds(71)) == 100)
        // Without Retry-After the wait grows from 5 s.
        limiter.rateLimited(now: .seconds(20), retryAfter: nil)
        #expect(limiter.earliestStart(now: .seconds(20)) == .seconds(30))
        limiter.succeeded()
        limiter.rateLimited(now: .seconds(40), retryAfter: nil)
        #expect(limiter.earliestStart(now: .seconds(40)) == .seconds(45))
    }

    @Test func seededStartsOfAnotherWorkerCount() {
        var limiter = RateLimiter<FakeInstant>(settings: settings)
        limiter.seed(starts: [.seconds(0), .seconds(0.5), .seconds(1), .seconds(1.5)])
        #expect(limiter.earliestStart(now: .seconds(2)) == .seconds(5.1))
    }
}

@Suite struct RateLimiterPacingTests {
    /// Under a steady overload, starts come evenly instead of a burst then seconds of nothing.
    @Test func beyondTheBurstStartsArePaced() {
        // 53 requests less the margin of one: 52 per 5 s; after a burst of 3, one every 5 s / 50.
        var limiter = RateLimiter<FakeInstant>(settings: .init(requests: 53, window: .seconds(5), marginWindow: .zero))
        var now = FakeInstant.seconds(0)
        var starts: [FakeInstant] = []
        for _ in 0..<120 {
            now = max(now, limiter.earliestStart(now: now))
            limiter.recordStart(at: now)
            starts.append(now)
        }
        #expect(starts.prefix(3).allSatisfy { $0 == .seconds(0) })
        for (a, b) in zip(starts.dropFirst(3), starts.dropFirst(4)) {
            #expect(b.offset - a.offset == .milliseconds(100))
        }
        // Never more than the window allows, and never a long stall.
        for (i, start) in starts.enumerated() {
            #expect(starts[i...].prefix { $0 < start.advanced(by: .seconds(5)) }.count <= 52)
        }
    }

    /// An idle project starts at once: pacing only remembers recent starts.
    @Test func anIdleProjectStartsAtOnce() {
        var limiter = RateLimiter<FakeInstant>(settings: .init(requests: 101, window: .seconds(5)))
        for second in [0.0, 1.0, 2.0, 3.5] {
            #expect(limiter.earliestStart(now: .seconds(second)) == .seconds(second))
            limiter.recordStart(at: .seconds(second))
        }
    }
}
