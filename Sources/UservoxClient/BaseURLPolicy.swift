import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// docs/contract.md §6: `USERVOX_BASE_URL` carries every project's bearer token, so it must be https,
/// except to a loopback host (the simulator) or when the operator says so out loud.
public enum BaseURLPolicy {
    /// Why a base URL is acceptable.
    public enum Verdict: Sendable, Equatable {
        /// `https://`.
        case encrypted
        /// `http://` to 127.0.0.0/8, ::1 or localhost: the token never leaves the machine.
        case loopback
        /// `http://` elsewhere, allowed by `--allow-insecure-uservox`: warn at start.
        case insecureAllowed
    }

    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Checks `url`; the refusal is one line naming the host and the rule, never the URL's
    /// user info or query.
    public static func check(_ url: String, allowInsecure: Bool) throws(Refusal) -> Verdict {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw Refusal(description: "USERVOX_BASE_URL is not a URL (expected https://host)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw Refusal(description: "USERVOX_BASE_URL has no host (expected https://host)")
        }
        switch scheme {
        case "https":
            return .encrypted
        case "http":
            if isLoopback(host) { return .loopback }
            if allowInsecure { return .insecureAllowed }
            throw Refusal(
                description:
                    "USERVOX_BASE_URL is http:// to \(host), not a loopback host: bearer tokens would travel unencrypted; use https:// (or --allow-insecure-uservox)"
            )
        default:
            throw Refusal(description: "USERVOX_BASE_URL must be https:// (got \(scheme)://)")
        }
    }

    /// `localhost`, an IPv4 address in 127.0.0.0/8 or `::1`, as literal addresses only: a
    /// name like `127.0.0.1.example.com` is not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1 }
        }
        return false
    }
}
