import FulcrumKernels
import FulcrumImbalance

/// Family `smote`: SMOTE (k = 5, D = 32) of a 100000/5000 two-class and a 100000/5000/2000
/// three-class data set to balance.
///
/// Roofline: the ideal time of its two parts measured in this run — the input read once and the
/// output written once at the stream copy rate, plus the minority self-kNN FLOPs (each unordered
/// pair once) at the FMA peak. The plain baseline is an obviously correct Swift SMOTE: a scalar
/// brute-force kNN per class and a scalar interpolation loop. The note gives the share of the
/// time that the minority classes' neighbour searches alone take (timed separately, same run).
/// As for the gating family, the target is a time and the runs are back to back, so the limits
/// are the run's start-up figures.
func smoteBenchmarks(_ context: BenchContext) throws {
    let d = 32, k = 5
    let cases: [[Int]] = context.quick ? [[10000, 500], [10000, 500, 200]] : [[100000, 5000], [100000, 5000, 2000]]
    for sizes in cases {
        let name = "smote \(sizes.count)-class k=5"
        guard context.wants(name) else { continue }
        var random = BenchRandom(seed: UInt64(sizes.reduce(0, +)))
        var features: [Float] = [], labels: [Int] = []
        for (c, n) in sizes.enumerated() {
            features += random.floats(n * d, Double(c) * 0.5 - 1, Double(c) * 0.5 + 1)
            labels += Array(repeating: c, count: n)
        }
        let rows = labels.count
        var output = 0
        let seconds = try features.withUnsafeBufferPointer { p in
            let view = MatrixView(unchecked: p.baseAddress, rows: rows, columns: d, rowStride: d)
            return try context.median {
                var generator = SplitMix64(seed: 1)
                output = try SMOTE(kNeighbors: k).fitResample(features: view, labels: labels, generator: &generator).rows
            }
        }
        // The minority classes' neighbour searches alone, to report their share of the time.
        let searches = try context.median {
            for (c, n) in sizes.enumerated().dropFirst() {
                let first = sizes[..<c].reduce(0, +) * d
                try features[first ..< first + n * d].withUnsafeBufferPointer { p in
                    _ = try NearestNeighbors.searchSelf(MatrixView(unchecked: p.baseAddress, rows: n, columns: d, rowStride: d), k: k)
                }
            }
        }
        var plainRows = 0
        let plain = context.median(runs: 1, warmUp: 0) { plainRows = plainSMOTE(features, labels: labels, columns: d, k: k) }
        let bytes = Double((rows + output) * d * 4)
        let flops = sizes.dropFirst().reduce(0.0) { $0 + Double($1) * Double($1) * Double(d) }
        let ideal = bytes / (context.limits.copyAllThreads * 1e9) + flops / (context.limits.fmaPeakGFLOPs * 1e9)
        context.report(BenchRow(
            name: name, shape: sizes.map(String.init).joined(separator: "/") + " D=\(d)", medianMs: seconds * 1e3,
            achieved: bytes / seconds * 1e-9, unit: "GB/s", rooflineRatio: ideal / seconds, baselineSpeedup: plain / seconds,
            note: (plainRows == output ? "" : "row counts differ! ") + "kNN \(Int((100 * searches / seconds).rounded()))% of time; "
                + "roofline = output bytes at copy rate + kNN flops at FMA peak" + (sizes == [100000, 5000] ? "; target <= 15 ms" : "")))
    }
}

/// The obviously correct SMOTE: for each minority class, scalar brute-force neighbours of every
/// sample, then `x + u·(x_nn − x)` for each new row. Returns the number of rows produced.
func plainSMOTE(_ features: [Float], labels: [Int], columns d: Int, k: Int) -> Int {
    var counts: [Int: [Int]] = [:]
    for (i, l) in labels.enumerated() { counts[l, default: []].append(i) }
    let largest = counts.values.map(\.count).max()!
    var random = BenchRandom(seed: 3)
    var produced = labels.count
    var out: [Float] = []
    for (_, rows) in counts.sorted(by: { $0.key < $1.key }) where rows.count < largest {
        var neighbors: [[Int]] = []
        for i in rows {
            var best: [(Float, Int)] = []
            for j in rows where j != i {
                var s: Float = 0
                for c in 0..<d { let t = features[i * d + c] - features[j * d + c]; s += t * t }
                if best.count < k || s < best[k - 1].0 {
                    if best.count == k { best.removeLast() }
                    var p = best.count
                    while p > 0 && best[p - 1].0 > s { p -= 1 }
                    best.insert((s, j), at: p)
                }
            }
            neighbors.append(best.map(\.1))
        }
        for _ in 0..<(largest - rows.count) {
            let p = random.below(rows.count), partner = neighbors[p][random.below(k)]
            let u = Float(random.unit())
            for c in 0..<d { out.append(features[rows[p] * d + c] + u * (features[partner * d + c] - features[rows[p] * d + c])) }
        }
        produced += largest - rows.count
    }
    return produced + out.count / d - out.count / d
}
