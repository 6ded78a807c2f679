import Foundation
import WireJSON

/// Fields whose key is always written (`null` when absent), so every object of one kind
/// has the same keys in the same order.
extension JSONWriter {
    public mutating func field(_ name: String, string value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    public mutating func field(_ name: String, int value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    public mutating func field(_ name: String, int64 value: Int64?) {
        key(name)
        if let value { raw(String(value).utf8) } else { null() }
    }

    public mutating func field(_ name: String, bool value: Bool) {
        key(name)
        bool(value)
    }

    public mutating func field(_ name: String, number value: Double?) {
        key(name)
        if let value, value.isFinite { raw(JSONNumber.text(value).utf8) } else { null() }
    }

    public mutating func field(_ name: String, date value: Date?) {
        key(name)
        if let value { string(Timestamp.format(value)) } else { null() }
    }

    /// `{"a": 1, "b": 2}` from ordered pairs.
    public mutating func field(_ name: String, counts: [(String, Int)]) {
        key(name)
        beginObject()
        for (label, count) in counts {
            key(label)
            int(count)
        }
        endObject()
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

enum JSONNumber {
    /// Shortest text that reads back as the same number; integers without `.0`.
    static func text(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// A JSON array written one element per line, so a long export streams and stays readable.
public struct JSONArrayLines: Sendable {
    private var count = 0

    public init() {}

    /// The text to write before `element`.
    public mutating func next(_ element: String) -> String {
        defer { count += 1 }
        return (count == 0 ? "[\n" : ",\n") + element
    }

    /// The text that closes the array.
    public func end() -> String { count == 0 ? "[]\n" : "\n]\n" }
}
