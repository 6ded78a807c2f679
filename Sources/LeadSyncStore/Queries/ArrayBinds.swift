import PostgresNIO

/// A bound `int8[]` for the hot statements (a batch's lead ids), written in one pass into
/// one reserved span. PostgresNIO's generic `[Int64]` encoding writes each element
/// through its own length placeholder: with the `text[]` below it was about 4 % of the
/// worker's CPU per lead (docs/performance.md). The bytes are PostgreSQL's binary array
/// format, the same that encoding sends.
package struct Int8ArrayBind: PostgresNonThrowingEncodable {
    package static var psqlType: PostgresDataType { .int8Array }
    package static var psqlFormat: PostgresFormat { .binary }
    package let values: [Int64]

    package init(_ values: [Int64]) { self.values = values }

    package func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        ArrayHeader.write(count: values.count, element: .int8, into: &buffer)
        guard !values.isEmpty else { return }
        let size = values.count * 12
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            var offset = 0
            for value in values {
                raw.storeBytes(of: Int32(8).bigEndian, toByteOffset: offset, as: Int32.self)
                raw.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: Int64.self)
                offset += 12
            }
            return size
        }
    }
}

/// A bound `text[]` (a batch's phone keys or remote ids), written like `Int8ArrayBind`.
package struct TextArrayBind: PostgresNonThrowingEncodable {
    package static var psqlType: PostgresDataType { .textArray }
    package static var psqlFormat: PostgresFormat { .binary }
    package let values: [String]

    package init(_ values: [String]) { self.values = values }

    package func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        ArrayHeader.write(count: values.count, element: .text, into: &buffer)
        guard !values.isEmpty else { return }
        var size = 0
        for value in values { size += 4 + value.utf8.count }
        buffer.reserveCapacity(minimumWritableBytes: size)
        for value in values {
            buffer.writeInteger(Int32(value.utf8.count))
            buffer.writeString(value)
        }
    }
}

/// The one-dimensional array header PostgresNIO writes for `[Element]`: dimensions (0 when
/// empty), no nulls flag, element type, then length and lower bound 1.
private enum ArrayHeader {
    static func write(count: Int, element: PostgresDataType, into buffer: inout ByteBuffer) {
        buffer.writeInteger(count == 0 ? 0 : 1, as: UInt32.self)
        buffer.writeInteger(0, as: Int32.self)
        buffer.writeInteger(element.rawValue)
        guard count > 0 else { return }
        buffer.writeInteger(Int32(count))
        buffer.writeInteger(1, as: Int32.self)
    }
}
