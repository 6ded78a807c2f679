/// The local pre-check (docs/contract.md §3, last paragraph): leads the API would reject for their
/// data are marked `invalid` with `source = local` before they cost quota.
public enum LeadValidator {
    /// Uservox's limit is not documented; metadata beyond this is refused locally.
    public static let maxMetadataBytes = 16 * 1024

    public struct Verdict: Sendable, Equatable {
        public var reason: InvalidReason
        public var message: String

        public init(reason: InvalidReason, message: String) {
            self.reason = reason
            self.message = message
        }
    }

    /// Checks one lead on its own. Duplicates need the rest of the project: the worker
    /// judges them with `leadsync.phone_claims`.
    public static func check(_ lead: Lead) -> Verdict? {
        if lead.metadata.utf8.count > maxMetadataBytes {
            return Verdict(
                reason: .localMetadataTooLarge,
                message: "metadata is \(lead.metadata.utf8.count) bytes; at most \(maxMetadataBytes) are sent")
        }
        guard lead.mode == .leads else { return nil }
        guard let key = lead.phoneKey else {
            return Verdict(
                reason: .localInvalidPhone,
                message:
                    "phone is not a phone number (\(PhoneNumber.digitRange.lowerBound)–\(PhoneNumber.digitRange.upperBound) digits, optional leading +)"
            )
        }
        if PhoneNumber.hasRepeatingDigits(key) {
            return Verdict(
                reason: .localRepeatingDigits,
                message: "phone contains \(PhoneNumber.repeatingRun) or more repeating digits")
        }
        return nil
    }
}
