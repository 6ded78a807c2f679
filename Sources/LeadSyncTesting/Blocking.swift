import Foundation

/// Runs a blocking call (`system()`, a process wait) on a thread of its own and awaits it.
/// Swift's cooperative pool has one thread per core, two here, and every test of the run
/// shares it: a call that blocks on it for seconds (initdb) stalls the other tests' tasks,
/// such as an in-process simulator's answer, past their clients' timeouts.
public func blocking<T: Sendable>(_ call: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: call()) }.start()
    }
}
