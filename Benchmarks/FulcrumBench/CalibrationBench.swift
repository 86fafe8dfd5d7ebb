import FulcrumKernels
import FulcrumCalibration

/// Families `auroc`, `average-precision`, `ece`, `temperature` and `mahalanobis`.
func calibrationBenchmarks(_ context: BenchContext) throws {
    try rankingBenchmarks(context)
}

/// AUROC and average precision over n Float scores with 1% positives, against a plain Swift
/// comparison sort of (score, label) pairs followed by the same tie-grouped walk.
private func rankingBenchmarks(_ context: BenchContext) throws {
    let n = context.quick ? 200_000 : 10_000_000
    guard context.wants("auroc") || context.wants("average-precision") else { return }
    var random = BenchRandom(seed: 11)
    var labels = [Int32](repeating: 0, count: n)
    var scores = [Float](repeating: 0, count: n)
    for i in 0..<n {
        let positive = random.unit() < 0.01
        labels[i] = positive ? 1 : 0
        scores[i] = Float(random.unit() + (positive ? 0.3 : 0))
    }
    // Ideal traffic: every score and label read once.
    let bytes = Double(n * (MemoryLayout<Float>.size + MemoryLayout<Int32>.size))
    let limit = context.limits.copyAllThreads
    try scores.withUnsafeBufferPointer { s in
        try labels.withUnsafeBufferPointer { y in
            for (name, fast, plain) in [
                ("auroc", { try RankingMetrics.rocAUC(scores: s, labels: y) }, { plainRanking(s, y).auroc }),
                ("average-precision", { try RankingMetrics.averagePrecision(scores: s, labels: y) }, { plainRanking(s, y).ap }),
            ] as [(String, () throws -> Double, () -> Double)] where context.wants(name) {
                var value = 0.0
                let seconds = try context.median { value = try fast() }
                var reference = 0.0
                let plainSeconds = context.median(runs: 1, warmUp: 0) { reference = plain() }
                let gbs = bytes / seconds * 1e-9
                context.report(BenchRow(
                    name: name, shape: "\(n) 1% positive", medianMs: seconds * 1e3, achieved: gbs, unit: "GB/s",
                    rooflineRatio: gbs / limit, baselineSpeedup: plainSeconds / seconds,
                    note: "target <= 150 ms at 10000000; |value - plain| = \(abs(value - reference))"))
            }
        }
    }
}

/// The obviously-correct version: sort (score, label) pairs with the standard library, walk the
/// tie groups from the highest score down.
private func plainRanking(_ scores: UnsafeBufferPointer<Float>, _ labels: UnsafeBufferPointer<Int32>) -> (auroc: Double, ap: Double) {
    var pairs = (0..<scores.count).map { (scores[$0], labels[$0]) }
    pairs.sort { $0.0 > $1.0 }
    let p = Double(labels.reduce(0) { $0 + Int($1) })
    let n = Double(scores.count) - p
    var (tp, fp, area, ap) = (0.0, 0.0, 0.0, 0.0)
    var i = 0
    while i < pairs.count {
        var (dtp, dfp) = (0.0, 0.0)
        let s = pairs[i].0
        while i < pairs.count && pairs[i].0 == s {
            if pairs[i].1 == 1 { dtp += 1 } else { dfp += 1 }
            i += 1
        }
        area += dfp * (tp + dtp / 2)
        tp += dtp
        fp += dfp
        if dtp > 0 { ap += dtp / p * tp / (tp + fp) }
    }
    return (area / (p * n), ap)
}
