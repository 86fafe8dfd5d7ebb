/// Every benchmark family, in report order. A family runs the cases `context.wants` and
/// reports one row per case. Add a family by adding its function here.
let benchFamilies: [@Sendable (BenchContext) throws -> Void] = [
    crossEntropyBenchmarks,
    neighborsBenchmarks,
    smoteBenchmarks,
    calibrationBenchmarks,
    gatingBenchmarks,
    lossesBenchmarks,
    hessianBenchmarks,
]
