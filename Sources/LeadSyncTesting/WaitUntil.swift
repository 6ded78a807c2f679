/// Waits for a condition with a deadline instead of sleeping and hoping. Polls briefly,
/// so a test takes as long as the system needs and fails clearly when it never happens.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

public func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(30),
    poll: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while true {
        if try await condition() { return }
        if clock.now >= deadline { throw WaitTimedOut(description: "timed out after \(timeout) waiting for: \(what)") }
        try await Task.sleep(for: poll)
    }
}
