/// What the simulator does with a request that passed auth and the rate limit.
public enum FaultAction: String, Sendable, CaseIterable {
    /// Answer normally.
    case ok
    /// 500 without processing.
    case serverError = "500"
    /// Close the connection without an answer or processing.
    case drop
    /// Process fully (leads are accepted), then answer 500.
    case processedThen500 = "processed_500"
    /// Hold the request (`Faults.hang`, 60 s by default) without processing, then drop it.
    case hang
}

/// A small, fast generator with a seed, so a fault run can be repeated exactly (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<1.
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Decides each request's fault: a scripted entry first (the project's script, then the
/// simulator-wide one), otherwise one draw against the configured rates.
struct FaultPlan {
    private(set) var faults: SimulatorConfiguration.Faults
    private var generator: SeededGenerator
    private var projectScripts: [String: ArraySlice<FaultAction>] = [:]
    private var sharedScript: ArraySlice<FaultAction> = []

    init(_ faults: SimulatorConfiguration.Faults) {
        self.faults = faults
        generator = SeededGenerator(seed: faults.seed)
    }

    /// New rates (and a new seed) take effect at once; scripts stay.
    mutating func replace(_ faults: SimulatorConfiguration.Faults) {
        if faults.seed != self.faults.seed { generator = SeededGenerator(seed: faults.seed) }
        self.faults = faults
    }

    /// Replaces the script of one project, or the shared one when `project` is nil.
    mutating func setScript(_ script: [FaultAction], project: String?) {
        if let project {
            projectScripts[project] = script[...]
        } else {
            sharedScript = script[...]
        }
    }

    mutating func next(project: String) -> FaultAction {
        if let action = projectScripts[project]?.popFirst() {
            if projectScripts[project]?.isEmpty == true { projectScripts[project] = nil }
            return action
        }
        if let action = sharedScript.popFirst() { return action }
        let total = faults.errorRate + faults.dropRate + faults.processedThen500Rate
        guard total > 0 else { return .ok }
        let draw = generator.nextUnit()
        if draw < faults.errorRate { return .serverError }
        if draw < faults.errorRate + faults.dropRate { return .drop }
        if draw < total { return .processedThen500 }
        return .ok
    }
}
