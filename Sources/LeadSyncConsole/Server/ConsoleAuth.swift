import Crypto
import Foundation

/// The console's guard for actions (docs/operating.md §19): an operator signs in with the
/// token from `LEADSYNC_CONSOLE_TOKEN`; the browser then holds a session cookie, and every
/// form carries a CSRF field. Both are HMACs of the token, so the server keeps no state,
/// changing the token signs everyone out, and neither value reveals the token.
public struct ConsoleAuth: Sendable {
    /// The cookie's name.
    public static let cookieName = "leadsync_console"
    /// The shortest token accepted: a guessable token would make the guard decorative.
    public static let minimumTokenLength = 16

    private let key: SymmetricKey

    public init(token: String) {
        key = SymmetricKey(data: Data(token.utf8))
    }

    private func mac(_ purpose: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(purpose.utf8), using: key)
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// The session cookie's value after a sign-in.
    public var session: String { mac("leadsync-console-session-v1") }

    /// The CSRF field every action form carries.
    public var csrf: String { mac("leadsync-console-csrf-v1") }

    /// Whether `candidate` is the token, compared in constant time (over its HMAC, so the
    /// lengths leak nothing either).
    public func isToken(_ candidate: String) -> Bool {
        Self.same(ConsoleAuth(token: candidate).session, session)
    }

    public func isSession(_ candidate: String?) -> Bool { candidate.map { Self.same($0, session) } ?? false }

    public func isCSRF(_ candidate: String?) -> Bool { candidate.map { Self.same($0, csrf) } ?? false }

    /// Equal in time that depends on the length only.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    /// The value of cookie `name` in a `Cookie` header.
    public static func cookie(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name {
                return pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
