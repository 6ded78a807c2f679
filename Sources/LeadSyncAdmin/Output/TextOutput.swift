import Foundation

/// Where a command's output goes: a buffered stdout in the CLI, a string in tests.
public protocol TextOutput {
    mutating func write(_ text: String)
}

/// Collects output in memory (tests, small results).
public struct StringOutput: TextOutput, Sendable {
    public var text = ""
    public init() {}
    public mutating func write(_ text: String) { self.text += text }
}

/// stdout, buffered, so an export of a million rows is not a million system calls.
public final class StandardOutput: TextOutput {
    private var buffer: [UInt8] = []

    public init() { buffer.reserveCapacity(1 << 16) }

    public func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}
