import Foundation
import LeadSyncCore
import WireJSON

/// Turns every possible answer of the Bulk Initiate API into one `APIAnswer`: a pure
/// function of (status, headers, body) and the batch that was sent.
public enum AnswerClassifier {
    /// Longest error text kept (attempt rows truncate further).
    static let maxMessage = 500

    public static func classify(
        status: Int, headers: [(name: String, value: String)], body: [UInt8], batch: BatchPlanner.Batch,
        now: Date = Date()
    ) -> APIAnswer {
        let json = try? JSONParser.parse(body)
        if (200..<300).contains(status) {
            guard let json else {
                return .badResponse(status: status, message: "answer is not JSON: \(snippet(body))")
            }
            return processed(json, batch: batch)
                ?? .badResponse(status: status, message: "answer is not the documented shape: \(snippet(body))")
        }
        // Only an error's text is needed (3 % of the worker's CPU when built for every answer).
        let message = errorMessage(json: json, body: body, status: status)
        switch status {
        case 413:
            return .payloadTooLarge(message: message)
        case 400:
            if let maximum = maximumLeads(in: message) { return .batchTooLarge(maximum: maximum, message: message) }
            return .badRequest(message: message, body: String(decoding: body.prefix(2000), as: UTF8.self))
        case 401:
            return .forbidden(.unauthorized, message: message)
        case 403:
            let lower = message.lowercased()
            if json?["invalidLeads"] != nil || lower.contains("projectid") {
                return .forbidden(.projectMismatch, message: message)
            }
            if lower.contains("not found") { return .forbidden(.projectNotFound, message: message) }
            return .forbidden(.projectInactive, message: message)
        case 404:
            return .processNotFound(processId: processId(in: message), message: message)
        case 408:
            return .timeout(message: message)
        case 429:
            return .rateLimited(retryAfter: retryAfter(headers, now: now), message: message)
        case 500...599:
            return .serverError(status: status, message: message)
        default:
            if (400..<500).contains(status) {
                return .badRequest(message: message, body: String(decoding: body.prefix(2000), as: UTF8.self))
            }
            return .badResponse(status: status, message: "unexpected HTTP \(status): \(message)")
        }
    }

    /// Matches each answer item back to its row: by `referenceId` (unique within the
    /// request), then by phone, then (leadIds mode) by lead id.
    static func processed(_ json: JSONValue, batch: BatchPlanner.Batch) -> APIAnswer? {
        guard case .object = json else { return nil }
        let success = json["success"]
        let errors = json["errors"]
        if success == nil && errors == nil { return nil }
        if let success, success.arrayValue == nil, !success.isNull { return nil }
        if let errors, errors.arrayValue == nil, !errors.isNull { return nil }

        var byReference: [String: Int64] = [:]
        var byRemoteId: [String: Int64] = [:]
        byReference.reserveCapacity(batch.leads.count)
        for lead in batch.leads {
            switch batch.mode {
            case .leads: byReference[lead.wireReferenceId] = lead.id
            case .leadIds: if let remote = lead.remoteLeadId { byRemoteId[remote] = lead.id }
            }
        }
        // By phone only when an item comes back without a known referenceId: rare, and
        // normalizing every phone of the batch up front cost more than the rest of the match.
        var byPhone: [String: Int64]?
        func match(_ item: JSONValue) -> Int64? {
            // `data` is looked up only when the item's own fields do not say.
            var data: JSONValue? { item["data"] }
            if let reference = (item["referenceId"] ?? data?["referenceId"])?.scalarText,
                let id = byReference[reference]
            {
                return id
            }
            if let phone = (item["phone"] ?? data?["phone"])?.stringValue,
                let normalized = PhoneNumber.normalize(phone)
            {
                if byPhone == nil {
                    byPhone = Dictionary(
                        batch.leads.compactMap { lead in lead.phoneKey.map { ($0, lead.id) } },
                        uniquingKeysWith: { first, _ in first })
                }
                if let id = byPhone?[PhoneNumber.dedupeKey(normalized)] { return id }
            }
            if batch.mode == .leadIds {
                for candidate in [item["leadId"], data?["leadId"], item["id"], data] {
                    if let text = candidate?.scalarText, let id = byRemoteId[text] { return id }
                }
            }
            return nil
        }

        var answers: [Int64: LeadAnswer] = [:]
        answers.reserveCapacity(batch.leads.count)
        for item in success?.arrayValue ?? [] {
            guard let id = match(item), answers[id] == nil else { continue }
            let remoteId = (item["id"] ?? item["leadId"] ?? item["_id"])?.scalarText
            answers[id] = .accepted(remoteId: remoteId)
        }
        for item in errors?.arrayValue ?? [] {
            guard let id = match(item), answers[id] == nil else { continue }
            let text = (item["error"] ?? item["message"])?.stringValue ?? "rejected without a message"
            answers[id] = .rejected(message: text)
        }
        for lead in batch.leads where answers[lead.id] == nil { answers[lead.id] = .unconfirmed }
        return .processed(answers)
    }

    static func errorMessage(json: JSONValue?, body: [UInt8], status: Int) -> String {
        if let text = (json?["error"] ?? json?["message"])?.stringValue, !text.isEmpty {
            return bounded(text)
        }
        return body.isEmpty ? "HTTP \(status) with an empty body" : "HTTP \(status): \(snippet(body))"
    }

    static func snippet(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(maxMessage), as: UTF8.self)
        return bounded(text.split(whereSeparator: \.isNewline).joined(separator: " "))
    }

    /// At most `maxMessage` scalars: a `Character` can hold any number of combining marks.
    static func bounded(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > maxMessage else { return text }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars.prefix(maxMessage))
        return String(view)
    }

    /// "Maximum of 1000 leads allowed per request" → 1000.
    static func maximumLeads(in message: String) -> Int? {
        guard let range = message.range(of: "Maximum of ", options: .caseInsensitive) else { return nil }
        let digits = message[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    /// "Process not found for lead with processId: X" → X.
    static func processId(in message: String) -> String? {
        guard let range = message.range(of: "processId:", options: .caseInsensitive) else { return nil }
        let id = message[range.upperBound...].trimmingCharacters(in: .whitespaces)
        return id.isEmpty ? nil : id
    }

    /// The longest back-off a 429 may impose (docs/contract.md §3).
    public static let maxRetryAfter = Duration.seconds(60)

    /// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), clamped to
    /// 0–60 s. Anything else (negative, NaN, infinite, not a number nor a date) is nil: the
    /// default back-off. A proxy's header must never decide how long a project sleeps.
    static func retryAfter(_ headers: [(name: String, value: String)], now: Date) -> Duration? {
        guard let value = headers.first(where: { $0.name.lowercased() == "retry-after" })?.value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { return nil }
        if trimmed.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            // Digits only: any length is a valid delta, however absurd; too long for Int is "a lot".
            return clamp(seconds: Double(trimmed) ?? .infinity)
        }
        // Plain decimals only: Double("0x10") or Double("1e3") would read much more.
        if trimmed.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
        ),
            let seconds = Double(trimmed), seconds.isFinite
        {
            return seconds < 0 ? nil : clamp(seconds: seconds)
        }
        if let date = httpDate(trimmed) { return clamp(seconds: max(0, date.timeIntervalSince(now))) }
        return nil
    }

    private static func clamp(seconds: Double) -> Duration {
        guard seconds < maxRetryAfter.secondsValue else { return maxRetryAfter }
        return .milliseconds(Int64((max(0, seconds) * 1000).rounded(.up)))
    }

    /// IMF-fixdate, and the two obsolete forms RFC 9110 says a recipient must accept.
    static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
