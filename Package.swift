// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "LeadSync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "leadsync", targets: ["leadsync"]),
        .executable(name: "uservox-sim", targets: ["uservox-sim"]),
        // For Benchmarks/ (a package of its own) and embedders.
        .library(name: "LeadSyncCore", targets: ["LeadSyncCore"]),
        .library(name: "WireJSON", targets: ["WireJSON"]),
        .library(name: "UservoxClient", targets: ["UservoxClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // `leadsync import`: a streaming RFC 4180 reader (README, Importing leads, says why this one).
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // Pure decisions: lead model, validation, batch planning, rate limiting, outcome mapping. No I/O.
        .target(name: "LeadSyncCore"),
        // Fast JSON for request and answer bodies (Foundation's coders are too slow on Linux).
        .target(name: "WireJSON"),
        // PostgreSQL: migrations and named queries.
        .target(
            name: "LeadSyncStore",
            dependencies: [
                "LeadSyncCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Uservox Bulk Initiate API over HTTP.
        .target(
            name: "UservoxClient",
            dependencies: [
                "LeadSyncCore",
                "WireJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The simulator as a library, so tests can host it on port 0.
        .target(
            name: "UservoxSimulator",
            dependencies: [
                "WireJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "LeadSyncWorker",
            dependencies: [
                "LeadSyncCore",
                "LeadSyncStore",
                "UservoxClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The admin commands' work: report building, listings, operations, output formats.
        .target(
            name: "LeadSyncAdmin",
            dependencies: [
                "LeadSyncCore",
                "LeadSyncStore",
                "UservoxClient",
                "WireJSON",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `leadsync console`: the operator's web pages (Hummingbird, Mustache templates, SVG charts).
        .target(
            name: "LeadSyncConsole",
            dependencies: [
                "LeadSyncAdmin",
                "LeadSyncCore",
                "LeadSyncStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // mallopt for the worker (glibc; the Glibc module leaves malloc.h out).
        .systemLibrary(name: "CMalloc"),
        .executableTarget(
            name: "leadsync",
            dependencies: [
                "CMalloc",
                "LeadSyncAdmin",
                "LeadSyncConsole",
                "LeadSyncCore",
                "LeadSyncStore",
                "LeadSyncWorker",
                "UservoxClient",
                "WireJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "uservox-sim",
            dependencies: [
                "UservoxSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test support: a migrated throwaway database per test, waiting on conditions.
        .target(
            name: "LeadSyncTesting",
            dependencies: [
                "LeadSyncStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "LeadSyncCoreTests", dependencies: ["LeadSyncCore"]),
        .testTarget(
            name: "WireJSONTests",
            dependencies: ["WireJSON", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "LeadSyncStoreTests",
            dependencies: [
                "LeadSyncStore", "LeadSyncTesting", "LeadSyncCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "UservoxClientTests",
            dependencies: [
                "UservoxClient", "UservoxSimulator", "LeadSyncCore", "WireJSON",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "UservoxSimulatorTests",
            dependencies: [
                "UservoxSimulator",
                "WireJSON",
                "LeadSyncTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "LeadSyncAdminTests",
            dependencies: [
                "LeadSyncAdmin", "LeadSyncCore", "LeadSyncStore", "LeadSyncTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "LeadSyncConsoleTests",
            dependencies: [
                "LeadSyncConsole", "LeadSyncAdmin", "LeadSyncStore", "LeadSyncTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "LeadSyncWorkerTests",
            dependencies: [
                "LeadSyncWorker", "LeadSyncStore", "LeadSyncTesting", "UservoxSimulator", "UservoxClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
