import Foundation
import Logging
import Testing

@testable import LeadSyncWorker

@Suite struct TextLogHandlerTests {
    @Test func controlCharactersCannotForgeALine() {
        // An API message and a project id as an attacker would write them.
        let line = TextLogHandler.format(
            timestamp: "2026-01-01T00:00:00Z", level: .warning, label: "leadsync.worker",
            message: "bad request\n2026-01-01T00:00:01Z info leadsync.worker: all good",
            metadata: ["project": "p1\r\u{1B}[2K", "error": "tab\there \\n"])
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1B}"))
        #expect(
            line
                == #"2026-01-01T00:00:00Z warning leadsync.worker: bad request\n2026-01-01T00:00:01Z info leadsync.worker: all good error=tab\there \\n project=p1\r\u{1B}[2K"#
        )
    }

    @Test func plainTextIsKept() {
        #expect(TextLogHandler.escape("Zoë +1 415 555 0100 — ok") == "Zoë +1 415 555 0100 — ok")
    }

    @Test func unicodeLineBreaksAndBidiOverridesAreEscaped() {
        #expect(TextLogHandler.escape("a\u{2028}b\u{202E}c\u{85}d\u{7F}") == #"a\u{2028}b\u{202E}c\u{85}d\u{7F}"#)
    }

    /// The time of a line, to the second, formatted once per second.
    @Test func linesOfOneSecondShareTheirTimestamp() {
        let first = Date(timeIntervalSince1970: 1_800_000_000.2)
        #expect(TextLogHandler.timestamp(first) == "2027-01-15T08:00:00Z")
        #expect(TextLogHandler.timestamp(first.addingTimeInterval(0.7)) == "2027-01-15T08:00:00Z")
        #expect(TextLogHandler.timestamp(first.addingTimeInterval(0.8)) == "2027-01-15T08:00:01Z")
        #expect(TextLogHandler.timestamp(first.addingTimeInterval(-0.3)) == "2027-01-15T07:59:59Z")
    }
}
