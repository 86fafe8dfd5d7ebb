import Foundation
import FulcrumKernels

/// One line of the report: a kernel at one shape, its time and how close it runs to its limit.
struct BenchRow: Encodable {
    /// Lowercase, starting with the family: `cross-entropy fwd+bwd mean`.
    var name: String
    /// Written like `4096x32768`.
    var shape: String
    /// Median time of the timed runs, in milliseconds.
    var medianMs: Double
    /// Achieved rate in `unit` (GB/s of ideal traffic, GFLOP/s, Gelem/s).
    var achieved: Double
    var unit: String
    /// Achieved ÷ the roofline measured in this run; nil where no roofline applies.
    var rooflineRatio: Double?
    /// Plain scalar Swift time ÷ this time, both measured in this run.
    var baselineSpeedup: Double?
    /// This time ÷ the time of the GEMMs it contains alone (compute-bound kernels).
    var gemmRatio: Double?
    /// Extra memory high-water mark of the call, in MiB.
    var extraMiB: Double?
    /// Free text: the limit used, the target, anything a reader needs.
    var note: String = ""

    enum CodingKeys: String, CodingKey {
        case name = "case", shape, medianMs = "median_ms", achieved, unit
        case rooflineRatio = "roofline_ratio", baselineSpeedup = "baseline_speedup"
        case gemmRatio = "gemm_ratio", extraMiB = "extra_mib", note
    }
}

/// What every family gets: the options, the machine limits measured in this run, and the timer.
final class BenchContext {
    let options: BenchOptions
    let limits: MachineLimits
    private(set) var rows: [BenchRow] = []

    init(options: BenchOptions, limits: MachineLimits) {
        self.options = options
        self.limits = limits
    }

    var quick: Bool { options.quick }

    /// Whether a case of this name passes `--filter`.
    func wants(_ name: String) -> Bool {
        options.filter.map { name.contains($0) } ?? true
    }

    /// Median seconds of `runs` timed calls of `body` after `warmUp` untimed ones.
    func median(runs: Int? = nil, warmUp: Int = 1, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmUp { try body() }
        var times: [Double] = []
        for _ in 0..<(runs ?? (quick ? 3 : 7)) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return BenchContext.middle(times)
    }

    /// The median of `values` (the upper one of an even count).
    static func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Times `body` like `median`, and before each timed run samples the stream copy and the
    /// vector exp rate once (`MachineLimits.copySample`, `expSample`), so that each run has the
    /// limits of its own moment: a slow phase of the shared host slows a run and the samples
    /// taken just before it alike, and `LimitedTiming.rooflineRatio` compares each run with its
    /// own limits. Each timed run then starts with cold caches (the copy streams 1 GiB), as a
    /// memory roofline assumes; cases whose input would fit in the last-level cache and whose
    /// targets are times use `median` instead.
    func timedAgainstLimits(runs: Int? = nil, warmUp: Int = 1, _ body: () throws -> Void) rethrows -> LimitedTiming {
        for _ in 0..<warmUp { try body() }
        var timed: [LimitedTiming.Run] = []
        for _ in 0..<(runs ?? (quick ? 3 : 7)) {
            let copy = limits.copySample(), exp = limits.expSample()
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            timed.append(LimitedTiming.Run(seconds: seconds, copyGBs: copy, expGelemsPerSecond: exp))
        }
        return LimitedTiming(runs: timed)
    }

    /// Adds a row to the report and prints its progress line.
    func report(_ row: BenchRow) {
        rows.append(row)
        print("  " + Table.line(row))
        fflush(nil)
    }
}

/// A case's timed runs, each with the machine's limits sampled just before it.
struct LimitedTiming {
    /// One timed run and the limits of its moment.
    struct Run {
        var seconds: Double
        /// Stream copy on all threads, GB/s (bytes read + bytes written).
        var copyGBs: Double
        /// Vector exp on cache-resident Floats, all threads.
        var expGelemsPerSecond: Double
    }

    var runs: [Run]

    /// The median time.
    var seconds: Double { BenchContext.middle(runs.map(\.seconds)) }
    /// The median copy sample, GB/s.
    var copyGBs: Double { BenchContext.middle(runs.map(\.copyGBs)) }
    /// The median exp sample, Gelem/s.
    var expGelemsPerSecond: Double { BenchContext.middle(runs.map(\.expGelemsPerSecond)) }

    /// The median over the runs of limit ÷ time, where `limitSeconds` gives a run's roofline time
    /// from its own samples: each run is compared with the machine of its own moment, so that a
    /// neighbour's burst on the shared host that slows a run and its samples cancels out, where
    /// a ratio of the separate medians would mix moments.
    func rooflineRatio(_ limitSeconds: (Run) -> Double) -> Double {
        BenchContext.middle(runs.map { limitSeconds($0) / $0.seconds })
    }

    /// `rooflineRatio` for a case that moves `bytes` against the stream copy alone.
    func copyRatio(bytes: Double) -> Double { rooflineRatio { bytes / ($0.copyGBs * 1e9) } }
}

/// The printed table.
enum Table {
    static let header = pad("case", 34) + pad("shape", 22) + lpad("ms", 10) + lpad("achieved", 18)
        + lpad("roofline", 10) + lpad("vs plain", 10) + lpad("vs gemm", 9) + lpad("extra MiB", 10) + "  note"

    static func line(_ r: BenchRow) -> String {
        pad(r.name, 34) + pad(r.shape, 22) + lpad(fmt(r.medianMs, 2), 10)
            + lpad(fmt(r.achieved, 1) + " " + r.unit, 18)
            + lpad(r.rooflineRatio.map { fmt($0, 2) } ?? "-", 10)
            + lpad(r.baselineSpeedup.map { fmt($0, 1) + "x" } ?? "-", 10)
            + lpad(r.gemmRatio.map { fmt($0, 2) } ?? "-", 9)
            + lpad(r.extraMiB.map { fmt($0, 1) } ?? "-", 10) + "  " + r.note
    }

    static func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}

/// Deterministic pseudo-random data for the benchmarks (SplitMix64).
struct BenchRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double, _ upper: Double) -> Double { lower + (upper - lower) * unit() }

    /// Uniform integer in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// `count` Floats uniform in [lower, upper).
    mutating func floats(_ count: Int, _ lower: Double, _ upper: Double) -> [Float] {
        (0..<count).map { _ in Float(uniform(lower, upper)) }
    }
}
