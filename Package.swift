// swift-tools-version:6.0
import PackageDescription

// Fulcrum has no package dependencies; it links the system's OpenBLAS and LAPACKE.
// Build it for your CPU with `-Xswiftc -target-cpu -Xswiftc native` (see README): the manifest
// carries no unsafe flags so that it stays usable as a versioned dependency.
let paperModules = ["FulcrumLosses", "FulcrumMoE", "FulcrumImbalance", "FulcrumCurvature", "FulcrumCalibration"]

let package = Package(
    name: "Fulcrum",
    products: [
        .library(name: "Fulcrum", targets: ["Fulcrum"]),
        .library(name: "FulcrumKernels", targets: ["FulcrumKernels"]),
        .executable(name: "fulcrum-bench", targets: ["FulcrumBench"]),
    ] + paperModules.map { .library(name: $0, targets: [$0]) },
    targets: [
        .systemLibrary(
            name: "CBLASShim",
            path: "CBLASShim",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(name: "FulcrumKernels", dependencies: ["CBLASShim"]),
        .target(name: "Fulcrum", dependencies: ["FulcrumKernels"] + paperModules.map { .target(name: $0) }),
        .executableTarget(
            name: "FulcrumBench",
            dependencies: ["FulcrumKernels"] + paperModules.map { .target(name: $0) },
            path: "Benchmarks/FulcrumBench"
        ),
        .testTarget(name: "FulcrumKernelsTests", dependencies: ["FulcrumKernels"]),
    ]
        + paperModules.map { .target(name: $0, dependencies: ["FulcrumKernels"]) }
        + paperModules.map { .testTarget(name: "\($0)Tests", dependencies: [.target(name: $0)]) }
)
