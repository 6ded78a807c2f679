import Foundation
import LeadSyncAdmin
import Testing
import WireJSON

@Suite struct DurationTextTests {
    @Test(
        arguments: [
            ("90s", 90_000), ("15m", 900_000), ("24h", 86_400_000), ("30d", 2_592_000_000), ("2w", 1_209_600_000),
            ("1h30m", 5_400_000), ("500ms", 500), ("5", 5000), ("0.5", 500), ("2.5s", 2500), ("1.5h", 5_400_000),
            ("24H", 86_400_000), ("0s", 0),
        ] as [(String, Int64)])
    func parses(_ text: String, milliseconds: Int64) {
        #expect(DurationText.parse(text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "h", "24 h", "-5m", "5x", "1h30", "1..5s", "abc", "1e3s", "99999999999d", " 5m"])
    func refuses(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(
        arguments: [
            (0, "0s"), (45, "45s"), (60, "1m"), (125, "2m05s"), (900, "15m"), (3600, "1h"), (11_520, "3h12m"),
            (86_400, "1d"), (100_800, "1d04h"), (2_592_000, "30d"), (-5, "0s"),
        ] as [(Int64, String)])
    func formats(_ seconds: Int64, _ text: String) {
        #expect(DurationText.format(.seconds(seconds)) == text)
    }

    @Test func formatsElapsedRequests() {
        #expect(DurationText.formatElapsed(milliseconds: 50) == "0.05s")
        #expect(DurationText.formatElapsed(milliseconds: 1500) == "1.50s")
        #expect(DurationText.formatElapsed(milliseconds: 12_345) == "12.3s")
        #expect(DurationText.formatElapsed(milliseconds: 125_000) == "2m05s")
    }
}

@Suite struct RateTextTests {
    @Test func parsesPercentAndShare() {
        #expect(RateText.parse("5%") == 0.05)
        #expect(RateText.parse("0.05") == 0.05)
        #expect(RateText.parse("100%") == 1)
        #expect(RateText.parse("0") == 0)
        #expect(RateText.parse("150%") == nil)
        #expect(RateText.parse("2") == nil)
        #expect(RateText.parse("-1%") == nil)
        #expect(RateText.parse("five") == nil)
        #expect(RateText.parse("%") == nil)
    }

    @Test func formats() {
        #expect(RateText.format(2.0 / 3.0) == "66.7%")
        #expect(RateText.format(0.006) == "0.6%")
        #expect(RateText.format(1) == "100.0%")
        #expect(RateText.rounded(2.0 / 3.0) == 0.6667)
    }
}

@Suite struct CSVTests {
    @Test func quotesOnlyWhatRFC4180Requires() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("1 (415) 555-0101") == "1 (415) 555-0101")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("two\nlines") == "\"two\nlines\"")
        #expect(CSV.field("cr\rhere") == "\"cr\rhere\"")
        #expect(CSV.field(nil) == "")
        #expect(CSV.field("") == "")
    }

    @Test func recordsEndInCRLF() {
        #expect(CSV.record(["1", nil, "x,y"]) == "1,,\"x,y\"\r\n")
    }

    /// OWASP CSV injection: a leading =, +, -, @, tab or CR gets a single quote in front.
    @Test func formulaCellsAreNeutralized() {
        #expect(CSV.field("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(CSV.field("+14155550100") == "'+14155550100")
        #expect(CSV.field("-2+3") == "'-2+3")
        #expect(CSV.field("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSV.field("\tx") == "'\tx")
        #expect(CSV.field("\rx") == "\"'\rx\"")
        #expect(CSV.field("a=b") == "a=b")
    }
}

@Suite struct TextTableTests {
    @Test func alignsColumnsWithoutTrailingBlanks() {
        var table = TextTable([.init("NAME"), .init("COUNT", .right), .init("NOTE")])
        table.append(["acme", "7", "ok"])
        table.append(["b", "1234", ""])
        #expect(
            table.render() == """
                NAME  COUNT  NOTE
                acme      7  ok
                b      1234

                """)
    }

    @Test func showsControlCharactersAsSpaces() {
        var table = TextTable([.init("MESSAGE")])
        table.append(["bad\u{1B}[31m\nline\tend"])
        #expect(table.render() == "MESSAGE\nbad [31m line end\n")
    }

    @Test func coloursOnlyWhenEnabled() {
        var table = TextTable([.init("STATE"), .init("N", .right)])
        table.append([.init("paused", .yellow), .init("1")])
        #expect(table.render(style: .plain) == "STATE   N\npaused  1\n")
        #expect(
            table.render(style: TerminalStyle(enabled: true))
                == "\u{1B}[1mSTATE\u{1B}[0m   \u{1B}[1mN\u{1B}[0m\n\u{1B}[33mpaused\u{1B}[0m  1\n")
    }
}

@Suite struct TerminalStyleTests {
    @Test func colourOnlyOnATerminalWithoutNO_COLOR() {
        #expect(TerminalStyle.detect(isTerminal: true, environment: [:]).enabled)
        #expect(!TerminalStyle.detect(isTerminal: false, environment: [:]).enabled)
        #expect(!TerminalStyle.detect(isTerminal: true, environment: ["NO_COLOR": "1"]).enabled)
        // no-color.org: an empty NO_COLOR does not count.
        #expect(TerminalStyle.detect(isTerminal: true, environment: ["NO_COLOR": ""]).enabled)
        #expect(!TerminalStyle.detect(isTerminal: true, environment: ["TERM": "dumb"]).enabled)
        #expect(TerminalStyle.plain.apply(.red, "x") == "x")
    }
}

@Suite struct TimestampTests {
    @Test func formatsUTCToTheSecond() throws {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_714_564_801.9)) == "2024-05-01T12:00:01Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        let parsed = try #require(Timestamp.parse("2024-05-01T14:00:00+02:00"))
        #expect(Timestamp.format(parsed) == "2024-05-01T12:00:00Z")
        #expect(Timestamp.parse("yesterday") == nil)
    }
}

@Suite struct JSONOutputTests {
    @Test func nullableFieldsKeepTheirKeys() {
        var w = JSONWriter()
        w.beginObject()
        w.field("a", string: nil)
        w.field("b", int: 3)
        w.field("c", number: 0.25)
        w.field("d", number: 2)
        w.field("e", date: Date(timeIntervalSince1970: 0))
        w.field("f", counts: [("x", 1)])
        w.endObject()
        #expect(w.text == #"{"a":null,"b":3,"c":0.25,"d":2,"e":"1970-01-01T00:00:00Z","f":{"x":1}}"#)
    }

    @Test func arraysStreamOneElementPerLine() throws {
        var lines = JSONArrayLines()
        #expect(lines.end() == "[]\n")
        let text = lines.next("1") + lines.next("2") + lines.end()
        #expect(text == "[\n1,\n2\n]\n")
        #expect(try JSONParser.parse(text) == .array([.number("1"), .number("2")]))
    }
}
