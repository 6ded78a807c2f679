// swift-tools-version: 6.1
// Micro-benchmarks of LeadSync's pure hot-path pieces (ordo-one/benchmark). A package of
// its own so the product and its CI never build the benchmark tooling.
//   cd Benchmarks && swift package benchmark
import PackageDescription

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
                .product(name: "LeadSyncCore", package: "LeadSync"),
                .product(name: "UservoxClient", package: "LeadSync"),
                .product(name: "WireJSON", package: "LeadSync"),
            ],
            path: "Benchmarks/LeadSyncBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
