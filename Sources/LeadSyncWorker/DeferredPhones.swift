import LeadSyncCore

/// The phones of never-tried leads a lane holds, waiting to be claimed with their attempt
/// (`LeadStore.defersPhoneClaims`, `AttemptQueries.InsertFenced`): a small project's
/// batch then costs no statement of its own for them (docs/operating.md §21). No I/O.
/// While a key waits here it counts as held for the lane's later claims, as its row in
/// `leadsync.phone_claims` would: a later lead with that phone is a local duplicate.
struct DeferredPhones: Sendable {
    private var keyOf: [Int64: String] = [:]
    private var keys: Set<String> = []

    /// Whether a lead waiting here has phone `key`.
    func holds(_ key: String) -> Bool { keys.contains(key) }

    mutating func add(keys newKeys: [String], leadIds: [Int64]) {
        for (key, id) in zip(newKeys, leadIds) {
            keyOf[id] = key
            keys.insert(key)
        }
    }

    /// The keys waiting of `leads`, and their leads, in the leads' order.
    func claims(of leads: [Lead]) -> (keys: [String], leadIds: [Int64]) {
        var claims: (keys: [String], leadIds: [Int64]) = ([], [])
        guard !keyOf.isEmpty else { return claims }
        for lead in leads {
            if let key = keyOf[lead.id] {
                claims.keys.append(key)
                claims.leadIds.append(lead.id)
            }
        }
        return claims
    }

    /// Claimed (or judged) now: no longer waiting.
    mutating func remove(_ leadIds: [Int64]) {
        for id in leadIds {
            if let key = keyOf.removeValue(forKey: id) { keys.remove(key) }
        }
    }
}
