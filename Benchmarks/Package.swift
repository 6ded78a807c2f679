// swift-tools-version: 6.1
// Micro-benchmarks of LeadSync's pure hot-path pieces (ordo-one/benchmark). A package of
// its own so the product and its CI never build the benchmark tooling.
//   cd Benchmarks && swift package benchmark
import Foundation
import PackageDescription

// A path dependency is known by its folder's name (the checkout's, whatever it is).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let leadSync = root.lastPathComponent.lowercased()

let package = Package(
    name: "LeadSyncBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LeadSyncBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LeadSyncCore", package: leadSync),
                .product(name: "UservoxClient", package: leadSync),
                .product(name: "WireJSON", package: leadSync),
            ],
            path: "Benchmarks/LeadSyncBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
