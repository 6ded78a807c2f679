import Foundation

/// The standard `process_*` metrics of Prometheus's client libraries, read from
/// /proc/self at scrape time (Linux; elsewhere they are left out).
enum ProcessMetrics {
    static func render(into text: inout PrometheusText) {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return }
        // Fields after "(comm)" start at field 3 (state); comm may hold spaces and parentheses.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let user = field(14), let system = field(15), ticks > 0 {
            text.family("process_cpu_seconds_total", "counter", help: "User and system CPU time spent in seconds.")
            text.sample("process_cpu_seconds_total", [], (user + system) / ticks)
        }
        if let virtual = field(23) {
            text.family("process_virtual_memory_bytes", "gauge", help: "Virtual memory size in bytes.")
            text.sample("process_virtual_memory_bytes", [], virtual)
        }
        if let pages = field(24) {
            text.family("process_resident_memory_bytes", "gauge", help: "Resident memory size in bytes.")
            text.sample("process_resident_memory_bytes", [], pages * pageSize)
        }
        if let started = field(22), let boot = bootTime(), ticks > 0 {
            text.family(
                "process_start_time_seconds", "gauge", help: "Start time of the process since unix epoch in seconds.")
            text.sample("process_start_time_seconds", [], boot + started / ticks)
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            text.family("process_open_fds", "gauge", help: "Number of open file descriptors.")
            text.sample("process_open_fds", [], Double(entries.count))
        }
        if let maxFiles = softLimit("Max open files") {
            text.family("process_max_fds", "gauge", help: "Maximum number of open file descriptors.")
            text.sample("process_max_fds", [], maxFiles)
        }
    }

    /// A soft limit from /proc/self/limits ("Max open files  1024  524288  files").
    private static func softLimit(_ name: String) -> Double? {
        guard let limits = try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8) else { return nil }
        for line in limits.split(separator: "\n") where line.hasPrefix(name) {
            return line.dropFirst(name.count).split(separator: " ").first.flatMap { Double($0) }
        }
        return nil
    }

    /// Seconds since the epoch at boot: /proc/stat's `btime`.
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
