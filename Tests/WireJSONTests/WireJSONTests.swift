import Foundation
import PropertyBased
import Testing

@testable import WireJSON

@Suite struct WireJSONTests {
    @Test func parsesTheReferenceAnswerShape() throws {
        let body = #"""
            { "success": [ {"id": "L1", "referenceId": "r1"} ],
              "errors": [ { "data": {"phone": "+1555"}, "referenceId": "r2",
                            "error": "A call attempt has already been made to this phone number for this project" } ] }
            """#
        let value = try JSONParser.parse(body)
        #expect(value["success"]?.arrayValue?.first?["id"]?.stringValue == "L1")
        #expect(value["errors"]?.arrayValue?.first?["data"]?["phone"]?.stringValue == "+1555")
        #expect(value["missing"] == nil)
    }

    @Test func decodesEscapesAndUnicode() throws {
        let value = try JSONParser.parse(#"["a\"b\\c\/d\n\t", "\u00e9\ud83d\ude00", "plain é"]"#)
        #expect(value == .array([.string("a\"b\\c/d\n\t"), .string("é😀"), .string("plain é")]))
    }

    @Test func keepsNumbersAsWritten() throws {
        let value = try JSONParser.parse(#"{"a": -12.50e3, "b": 0, "c": 12345678901234567890}"#)
        #expect(value["a"] == .number("-12.50e3"))
        #expect(value["c"]?.scalarText == "12345678901234567890")
        #expect(value["b"]?.intValue == 0)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "\"abc", "tru", "01x", "[1] 2", "\"\\x\"", "\"\\ud800\""])
    func rejectsMalformedDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("name", "Zoë \"Q\" \\ \n\u{01}")
        writer.field("absent", nil)
        writer.key("init")
        writer.bool(true)
        writer.key("metadata")
        writer.raw(Array(#"{"k": [1, 2]}"#.utf8))
        writer.key("list")
        writer.beginArray()
        writer.int(1)
        writer.null()
        writer.string("x")
        writer.endArray()
        writer.endObject()
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text == #"{"name":"Zoë \"Q\" \\ \n\u0001","init":true,"metadata":{"k": [1, 2]},"list":[1,null,"x"]}"#)
        // Foundation agrees it is valid JSON with the same content.
        let foundation = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any]
        #expect(foundation?["name"] as? String == "Zoë \"Q\" \\ \n\u{01}")
        #expect(try JSONParser.parse(writer.bytes)["name"]?.stringValue == "Zoë \"Q\" \\ \n\u{01}")
    }

    @Test func valueRoundTrips() throws {
        let text = #"{"a":[true,false,null,1.5,"s"],"b":{}}"#
        #expect(try JSONParser.parse(text).jsonString == text)
    }
}

/// The parser meets whatever the network sends: random and truncated bytes end in a
/// value or a `JSONParseError`, never a trap or a hang.
@Suite struct JSONParserPropertyTests {
    @Test func randomBytes() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...255).array(of: 0...512)) { bytes in
            _ = try? JSONParser.parse(bytes.map { UInt8($0) })
        }
    }

    @Test func randomBytesFromJSONsAlphabet() async {
        let alphabet = Array(#"{}[]":,\0123456789.eE+-truefalsnul u"#.utf8)
        await propertyCheck(count: 500, input: Gen.int(in: 0...(alphabet.count - 1)).array(of: 0...512)) { picks in
            _ = try? JSONParser.parse(picks.map { alphabet[$0] })
        }
    }
}
