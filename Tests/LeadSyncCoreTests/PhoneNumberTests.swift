import Testing

@testable import LeadSyncCore

@Suite struct PhoneNumberTests {
    @Test(arguments: [
        ("+1 (555) 123-4567", "+15551234567"),
        ("555.123.4567", "5551234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ])
    func normalizesFormatting(_ raw: String, _ expected: String) {
        #expect(PhoneNumber.normalize(raw) == expected)
    }

    @Test(arguments: ["", "abc", "+1 555 CALL NOW", "12345", "+1234567890123456", "1+5551234567", "++15551234567"])
    func rejectsWhatIsNotAPhone(_ raw: String) {
        #expect(PhoneNumber.normalize(raw) == nil)
    }

    @Test func repeatingDigits() {
        #expect(PhoneNumber.hasRepeatingDigits("+15550000000"))
        #expect(PhoneNumber.hasRepeatingDigits("1111111111"))
        #expect(!PhoneNumber.hasRepeatingDigits("+15551000000"))
        #expect(!PhoneNumber.hasRepeatingDigits("+15551234567"))
    }

    @Test func dedupeKeyIgnoresThePlus() {
        #expect(PhoneNumber.dedupeKey("+15551234567") == PhoneNumber.dedupeKey("15551234567"))
    }
}
