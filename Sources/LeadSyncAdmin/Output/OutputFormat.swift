/// `--format`: aligned text for people, JSON and CSV for programs (SPEC §7).
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, json, csv
}
