/// `--format`: aligned text for people, JSON and CSV for programs (docs/contract.md §7).
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, json, csv
}
