/// A first-in first-out queue of instants; popping is O(1) and the storage is compacted
/// now and then, so a busy project's window costs no allocation per request.
struct InstantQueue {
    typealias Instant = ContinuousClock.Instant

    private var storage: [Instant] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    var first: Instant? { isEmpty ? nil : storage[head] }

    mutating func append(_ instant: Instant) {
        storage.append(instant)
    }

    mutating func removeFirst() {
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    /// Drops instants that are `window` or more before `now`: they no longer share a window with it.
    mutating func expire(before now: Instant, window: Duration) {
        while let first, now - first >= window { removeFirst() }
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }
}

/// The per-project request limit: at most `limit` admitted requests in any `window`.
/// An instant exactly `window` after an admitted one is in a new window.
struct SlidingWindow {
    private var admitted = InstantQueue()

    enum Decision: Equatable {
        case admitted
        /// Full; a slot frees after this long.
        case full(retryAfter: Duration)
    }

    mutating func admit(at now: ContinuousClock.Instant, limit: Int, window: Duration) -> Decision {
        admitted.expire(before: now, window: window)
        // A lowered limit (POST /_sim/config) may leave more than `limit` inside; the oldest
        // of the newest `limit` decides when a slot frees.
        while admitted.count > limit { admitted.removeFirst() }
        guard admitted.count >= limit, let oldest = admitted.first else {
            admitted.append(now)
            return .admitted
        }
        return .full(retryAfter: oldest + window - now)
    }

    mutating func removeAll() { admitted.removeAll() }
}

/// The most requests seen inside any window of one length: proof that a client never
/// exceeded the limit, counting requests that were refused too.
struct WindowPeak {
    private var recent = InstantQueue()
    private(set) var peak = 0

    mutating func record(_ now: ContinuousClock.Instant, window: Duration) {
        recent.expire(before: now, window: window)
        recent.append(now)
        peak = max(peak, recent.count)
    }

    mutating func removeAll() {
        recent.removeAll()
        peak = 0
    }
}

extension Duration {
    /// Whole seconds, rounded up, at least 1: the `Retry-After` value.
    var retryAfterSeconds: Int {
        let (seconds, attoseconds) = components
        let whole = Int(seconds) + (attoseconds > 0 ? 1 : 0)
        return Swift.max(1, whole)
    }
}
