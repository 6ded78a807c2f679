import Foundation
import LeadSyncCore
import LeadSyncStore
import Logging
import PostgresNIO
import WireJSON

/// `leadsync lead resubmit ID`: the API reference's fix for a rejected lead is to send it
/// again as a new lead. The corrected copy is a new `pending` lead with `resubmit_of` = ID;
/// the original keeps its state and history (docs/contract.md §2: `invalid` is final).
///
/// Which leads may be resubmitted:
/// - `invalid`: yes; it stays invalid.
/// - `cancelled`: yes; it stays cancelled.
/// - `held`: yes, and the original is cancelled in the same transaction, so a later
///   `release` can never send both.
/// - `pending` (in flight or not), `submitted`: no. A pending lead may be on its way (the copy
///   would be a second call), and a submitted one is at Uservox already.
/// - a lead already resubmitted: no; resubmit the newest copy instead, so one mistake
///   never becomes two live leads.
/// The copy must pass the local pre-check (docs/contract.md §3), else nothing is written.
public struct Resubmit: Sendable {
    /// `nil` keeps the original's value; an empty string clears it.
    public struct Changes: Sendable, Equatable {
        public var phone: String?
        public var processId: String?
        public var email: String?
        public var name: String?
        public var firstName: String?
        public var lastName: String?
        public var groupId: String?
        public var referenceId: String?
        /// A JSON object, as text.
        public var metadata: String?

        public init(
            phone: String? = nil, processId: String? = nil, email: String? = nil, name: String? = nil,
            firstName: String? = nil, lastName: String? = nil, groupId: String? = nil, referenceId: String? = nil,
            metadata: String? = nil
        ) {
            self.phone = phone
            self.processId = processId
            self.email = email
            self.name = name
            self.firstName = firstName
            self.lastName = lastName
            self.groupId = groupId
            self.referenceId = referenceId
            self.metadata = metadata
        }

        public var isEmpty: Bool { self == Changes() }

        /// The names of the changed fields, for the confirmation line.
        public var changedFields: [String] {
            [
                ("phone", phone), ("process_id", processId), ("email", email), ("name", name),
                ("first_name", firstName), ("last_name", lastName), ("group_id", groupId),
                ("reference_id", referenceId), ("metadata", metadata),
            ].compactMap { $0.1 == nil ? nil : $0.0 }
        }

        /// `original` with the changes applied (id and counters are the new row's business).
        public func apply(to original: Lead) -> Lead {
            func pick(_ change: String?, _ old: String?) -> String? {
                guard let change else { return old }
                return change.isEmpty ? nil : change
            }
            var copy = original
            copy.phone = pick(phone, original.phone)
            copy.processId = pick(processId, original.processId)
            copy.email = pick(email, original.email)
            copy.name = pick(name, original.name)
            copy.firstName = pick(firstName, original.firstName)
            copy.lastName = pick(lastName, original.lastName)
            copy.groupId = pick(groupId, original.groupId)
            copy.referenceId = pick(referenceId, original.referenceId)
            if let metadata { copy.metadata = metadata.isEmpty ? "{}" : metadata }
            copy.attemptCount = 0
            copy.ambiguous = false
            return copy
        }
    }

    public struct Result: Sendable, Equatable {
        public var originalId: Int64
        public var newId: Int64
        public var projectId: String
        /// The original's state before, and after (`cancelled` for a held lead).
        public var originalStatus: String
        public var originalStatusAfter: String
        public var changedFields: [String]

        public var summary: String {
            let changes = changedFields.isEmpty ? "unchanged" : "changed: " + changedFields.joined(separator: ", ")
            let original =
                originalStatus == originalStatusAfter
                ? "lead \(originalId) stays \(originalStatus)"
                : "lead \(originalId) was \(originalStatus), now \(originalStatusAfter)"
            return
                "lead \(originalId) resubmitted as lead \(newId) (pending, project \(projectId); \(changes)); \(original)"
        }
    }

    static let resubmittable: Set<String> = [
        LeadState.invalid.rawValue, LeadState.held.rawValue, LeadState.cancelled.rawValue,
    ]

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run(_ id: Int64, changes: Changes, on connection: PostgresConnection) async throws -> Result {
        let logger = self.logger
        return try await connection.withTransaction(logger: logger) { tx in
            guard let row = try await tx.firstRow(ReportQueries.leadForUpdate(id), logger: logger) else {
                throw AdminError(.notFound, "no lead \(id)")
            }
            let record = LeadRecord(row)
            guard Self.resubmittable.contains(record.status) else {
                throw AdminError(
                    .refused,
                    "lead \(id) is \(record.status): only invalid, held or cancelled leads can be resubmitted")
            }
            if let newer = try await tx.rows(ReportQueries.resubmits(of: id), logger: logger).last {
                throw AdminError(
                    .refused,
                    "lead \(id) was already resubmitted as lead \(newer.id) (\(newer.status)); resubmit that one instead"
                )
            }
            let copy = changes.apply(to: record.lead)
            if copy.phone == nil && copy.remoteLeadId == nil {
                throw AdminError(.refused, "the corrected lead would have neither a phone nor a remote_lead_id")
            }
            if let verdict = LeadValidator.check(copy) {
                throw AdminError(
                    .refused,
                    "the corrected lead would be rejected locally (\(verdict.reason.rawValue)): \(verdict.message)")
            }
            guard
                let newId = try await tx.firstRow(LeadQueries.insertResubmit(copy, resubmitOf: id), logger: logger)
            else { throw AdminError(.failed, "the corrected lead was not inserted") }
            var after = record.status
            if record.status == LeadState.held.rawValue {
                try await tx.query(LeadQueries.cancelReplaced(id, by: newId), logger: logger)
                after = LeadState.cancelled.rawValue
            }
            return Result(
                originalId: id, newId: newId, projectId: copy.projectId, originalStatus: record.status,
                originalStatusAfter: after, changedFields: changes.changedFields)
        }
    }

    /// `--metadata` must be a JSON object (docs/contract.md §1); nil when it is, the reason otherwise.
    public static func metadataProblem(_ text: String) -> String? {
        do {
            guard case .object = try JSONParser.parse(text) else { return "--metadata must be a JSON object" }
            return nil
        } catch {
            return "--metadata is not JSON: \(error)"
        }
    }
}
