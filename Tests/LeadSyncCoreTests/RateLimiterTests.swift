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
        // And it is not slower than it must be: 40 starts in ~10 windows.
        #expect(now <= .seconds(9 * 5.1 + 0.01))
    }

    @Test func startsAtOnceWhileThereIsRoom() {
        var limiter = RateLimiter<FakeInstant>(settings: settings)
        for _ in 0..<4 {
            #expect(limiter.earliestStart(now: .seconds(1)) == .seconds(1))
            limiter.recordStart(at: .seconds(1))
        }
        #expect(limiter.earliestStart(now: .seconds(1)) == .seconds(6.1))
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
        var limiter = RateLimiter<FakeInstant>(settings: .init(requests: 101, window: .seconds(5), marginWindow: .zero))
        var now = FakeInstant.seconds(0)
        var starts: [FakeInstant] = []
        for _ in 0..<40 {
            now = max(now, limiter.earliestStart(now: now))
            limiter.recordStart(at: now)
            starts.append(now)
        }
        // The first ten go at once; after that one every 5 s / 100 = 50 ms.
        #expect(starts.prefix(10).allSatisfy { $0 == .seconds(0) })
        for (a, b) in zip(starts.dropFirst(10), starts.dropFirst(11)) {
            #expect(b.offset - a.offset == .milliseconds(50))
        }
        // Never more than the window allows.
        for (i, start) in starts.enumerated() {
            #expect(starts[i...].prefix { $0 < start.advanced(by: .seconds(5)) }.count <= 100)
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
