import Foundation
import FulcrumKernels
import FulcrumCalibration

/// Families `auroc`, `average-precision`, `ece`, `temperature` and `mahalanobis`.
func calibrationBenchmarks(_ context: BenchContext) throws {
    try rankingBenchmarks(context)
    try calibrationErrorBenchmark(context)
    try temperatureBenchmark(context)
    try mahalanobisBenchmarks(context)
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

/// Top-label equal-width ECE (15 bins) over n×C probabilities, against a plain one-thread loop.
private func calibrationErrorBenchmark(_ context: BenchContext) throws {
    let name = "ece top-label equal-width"
    guard context.wants(name) else { return }
    let (n, c) = context.quick ? (10_000, 100) : (1_000_000, 1000)
    let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * c)
    defer { p.deallocate() }
    var random = BenchRandom(seed: 21)
    var labels = [Int32](repeating: 0, count: n)
    for i in 0..<n {
        let row = p.baseAddress! + i * c
        var sum: Float = 0
        for j in 0..<c {
            row[j] = Float(random.next() >> 40) + 1
            sum += row[j]
        }
        for j in 0..<c { row[j] /= sum }
        labels[i] = Int32(random.below(c))
    }
    let view = MatrixView(unchecked: UnsafePointer(p.baseAddress), rows: n, columns: c, rowStride: c)
    var value = 0.0, reference = 0.0
    let timing = try labels.withUnsafeBufferPointer { y in
        try context.timedAgainstLimits { value = try CalibrationMetrics.calibrationError(probabilities: view, labels: y).expectedCalibrationError }
    }
    let seconds = timing.seconds
    let plain = context.median(runs: 1, warmUp: 0) { reference = plainTopLabelECE(view, labels, bins: 15) }
    let bytes = Double(n * (c + 1) * 4)
    context.report(BenchRow(
        name: name, shape: "\(n)x\(c) 15 bins", medianMs: seconds * 1e3, achieved: bytes / seconds * 1e-9, unit: "GB/s",
        rooflineRatio: timing.copyRatio(bytes: bytes), baselineSpeedup: plain / seconds,
        note: "validation fused; |value - plain| = \(abs(value - reference))"))
}

/// The obviously-correct top-label ECE: one thread, scalar loops, Double sums.
private func plainTopLabelECE(_ p: MatrixView<Float>, _ labels: [Int32], bins: Int) -> Double {
    var count = [Double](repeating: 0, count: bins), conf = count, hits = count
    for i in 0..<p.rows {
        var (best, arg, sum) = (-Float.infinity, 0, 0.0)
        for j in 0..<p.columns {
            let v = p[i, j]
            precondition(v >= 0 && v <= 1)
            sum += Double(v)
            if v > best { (best, arg) = (v, j) }
        }
        precondition(abs(sum - 1) < 1e-2)
        let b = min(bins - 1, Int(Double(best) * Double(bins)))
        count[b] += 1
        conf[b] += Double(best)
        if arg == Int(labels[i]) { hits[b] += 1 }
    }
    var ece = 0.0
    for b in 0..<bins where count[b] > 0 { ece += count[b] / Double(p.rows) * abs(hits[b] / count[b] - conf[b] / count[b]) }
    return ece
}

/// Temperature scaling fit on n×C logits generated with T = 2, against the same Newton method
/// in plain scalar Swift (libm exp, one thread).
private func temperatureBenchmark(_ context: BenchContext) throws {
    let name = "temperature fit"
    guard context.wants(name) else { return }
    let (n, c) = context.quick ? (2_000, 100) : (100_000, 100)
    var random = BenchRandom(seed: 31)
    var logits = [Float](repeating: 0, count: n * c)
    var labels = [Int32](repeating: 0, count: n)
    for i in 0..<n {
        let label = random.below(c)
        labels[i] = Int32(label)
        for j in 0..<c { logits[i * c + j] = Float(2 * (random.uniform(-2, 2) + (j == label ? 2.5 : 0))) }
    }
    var fitted = 0.0, iterations = 0, reference = 0.0
    let (timing, plain) = try logits.withUnsafeBufferPointer { x in
        try labels.withUnsafeBufferPointer { y in
            let view = MatrixView(unchecked: x.baseAddress, rows: n, columns: c, rowStride: c)
            let timing = try context.timedAgainstLimits(runs: context.quick ? 3 : 5) {
                let fit = try TemperatureScaling(logits: view, labels: y)
                (fitted, iterations) = (fit.temperature, fit.iterations)
            }
            let plain = context.median(runs: 1, warmUp: 0) { reference = plainTemperature(view, y) }
            return (timing, plain)
        }
    }
    let seconds = timing.seconds
    let bytes = Double(iterations * n * c * 4)
    context.report(BenchRow(
        name: name, shape: "\(n)x\(c)", medianMs: seconds * 1e3, achieved: bytes / seconds * 1e-9, unit: "GB/s",
        rooflineRatio: timing.copyRatio(bytes: bytes), baselineSpeedup: plain / seconds,
        note: "\(iterations) Newton steps (logits read once per step counted); T = \(Table.fmt(fitted, 4)), plain T = \(Table.fmt(reference, 4))"))
}

/// Newton on log T with scalar softmax statistics per row, in Double with libm exp.
private func plainTemperature(_ x: MatrixView<Float>, _ y: UnsafeBufferPointer<Int32>) -> Double {
    var t = 0.0
    for _ in 0..<50 {
        let s = exp(-t)
        var (d1, d2) = (0.0, 0.0)
        for i in 0..<x.rows {
            var m = -Double.infinity
            for j in 0..<x.columns { m = max(m, s * Double(x[i, j])) }
            var (z, ex, ex2) = (0.0, 0.0, 0.0)
            for j in 0..<x.columns {
                let v = Double(x[i, j]), e = exp(s * v - m)
                z += e
                ex += e * v
                ex2 += e * v * v
            }
            let mean = ex / z
            d1 += mean - Double(x[i, Int(y[i])])
            d2 += ex2 / z - mean * mean
        }
        let (ds, dss) = (d1 / Double(x.rows), d2 / Double(x.rows))
        let (slope, curvature) = (-s * ds, s * s * dss + s * ds)
        let step = max(-2, min(2, -slope / curvature))
        t += step
        if abs(step) < 1e-7 { break }
    }
    return exp(t)
}

/// Mahalanobis fit and scoring on n×d features of C classes, against plain scalar Swift loops
/// timed on the first rows and scaled to n (the plain version is O(n·d²) scalar work).
private func mahalanobisBenchmarks(_ context: BenchContext) throws {
    guard context.wants("mahalanobis") else { return }
    let (n, d, c) = context.quick ? (2_000, 64, 10) : (50_000, 512, 100)
    var random = BenchRandom(seed: 41)
    var labels = [Int32](repeating: 0, count: n)
    var x = [Float](repeating: 0, count: n * d)
    for i in 0..<n {
        labels[i] = Int32(i % c)
        var previous = 0.0
        for j in 0..<d {
            previous = 0.5 * previous + random.uniform(-1, 1)
            x[i * d + j] = Float(previous + Double((i % c) * (j % 7)) * 0.05)
        }
    }
    let plainRows = min(n, context.quick ? 500 : 2_000)
    try x.withUnsafeBufferPointer { px in
        try labels.withUnsafeBufferPointer { y in
            let view = MatrixView(unchecked: px.baseAddress, rows: n, columns: d, rowStride: d)
            var detector: MahalanobisDetector?
            if context.wants("mahalanobis fit") {
                let seconds = try context.median(runs: context.quick ? 3 : 3) { detector = try MahalanobisDetector(features: view, labels: y, classCount: c) }
                let flops = 2 * Double(n) * Double(d) * Double(d)
                let gemm = flops / (context.limits.gemmGFLOPs(Double.self, m: d, n: d, k: n, transposeA: true) * 1e9)
                let plain = context.median(runs: 1, warmUp: 0) { blackHole(plainCovariance(view.rows(0..<plainRows), y, classCount: c)) } * Double(n) / Double(plainRows)
                context.report(BenchRow(
                    name: "mahalanobis fit", shape: "\(n)x\(d) \(c) classes", medianMs: seconds * 1e3, achieved: flops / seconds * 1e-9, unit: "GFLOP/s",
                    baselineSpeedup: plain / seconds, gemmRatio: seconds / gemm,
                    note: "Double covariance GEMM + Cholesky + L^-1; plain timed on \(plainRows) rows, scaled"))
            }
            if context.wants("mahalanobis score") {
                let model = try detector ?? MahalanobisDetector(features: view, labels: y, classCount: c)
                var scores = [Float](repeating: 0, count: n)
                let seconds = try scores.withUnsafeMutableBufferPointer { s in try context.median { try model.scores(view, into: s) } }
                let flops = 2 * Double(n) * Double(d) * Double(d + c)
                let rows = min(n, 2048)
                let gemm = Double(n) / Double(rows) * (2 * Double(rows * d * d) / (context.limits.gemmGFLOPs(Float.self, m: rows, n: d, k: d, transposeB: true) * 1e9)
                    + 2 * Double(rows * d * c) / (context.limits.gemmGFLOPs(Float.self, m: rows, n: c, k: d, transposeB: true) * 1e9))
                let precision = plainPrecision(model, d)
                let plain = context.median(runs: 1, warmUp: 0) {
                    blackHole(plainScores(view.rows(0..<(plainRows / 4)), model.means, precision, classes: c))
                } * Double(n) / Double(plainRows / 4)
                context.report(BenchRow(
                    name: "mahalanobis score", shape: "\(n)x\(d) \(c) classes", medianMs: seconds * 1e3, achieved: flops / seconds * 1e-9, unit: "GFLOP/s",
                    baselineSpeedup: plain / seconds, gemmRatio: seconds / gemm,
                    note: "whiten once + GEMM; plain: per-class quadratic forms, timed on \(plainRows / 4) rows, scaled"))
            }
        }
    }
}

/// Class means and the tied covariance with plain loops (Double).
private func plainCovariance(_ x: MatrixView<Float>, _ labels: UnsafeBufferPointer<Int32>, classCount: Int) -> [Double] {
    let (n, d) = (x.rows, x.columns)
    var means = [Double](repeating: 0, count: classCount * d), counts = [Double](repeating: 0, count: classCount)
    for i in 0..<n {
        counts[Int(labels[i])] += 1
        for j in 0..<d { means[Int(labels[i]) * d + j] += Double(x[i, j]) }
    }
    for k in 0..<classCount where counts[k] > 0 { for j in 0..<d { means[k * d + j] /= counts[k] } }
    var sigma = [Double](repeating: 0, count: d * d), centred = [Double](repeating: 0, count: d)
    for i in 0..<n {
        for j in 0..<d { centred[j] = Double(x[i, j]) - means[Int(labels[i]) * d + j] }
        for a in 0..<d { for b in 0...a { sigma[a * d + b] += centred[a] * centred[b] } }
    }
    return sigma
}

/// Σ⁻¹ = Wᵀ·W from the detector's covariance, by plain Gauss-Jordan (setup, not timed).
private func plainPrecision(_ model: MahalanobisDetector, _ d: Int) -> [Double] {
    var a = model.covariance, inverse = [Double](repeating: 0, count: d * d)
    for j in 0..<d { a[j * d + j] += model.ridge; inverse[j * d + j] = 1 }
    for col in 0..<d {
        let p = a[col * d + col]
        for j in 0..<d { a[col * d + j] /= p; inverse[col * d + j] /= p }
        for r in 0..<d where r != col {
            let f = a[r * d + col]
            if f == 0 { continue }
            for j in 0..<d { a[r * d + j] -= f * a[col * d + j]; inverse[r * d + j] -= f * inverse[col * d + j] }
        }
    }
    return inverse
}

/// max_c −(x − μ_c)ᵀ Σ⁻¹ (x − μ_c) with plain loops.
private func plainScores(_ x: MatrixView<Float>, _ means: [Double], _ precision: [Double], classes: Int) -> [Double] {
    let d = x.columns
    var diff = [Double](repeating: 0, count: d)
    return (0..<x.rows).map { i in
        var best = -Double.infinity
        for k in 0..<classes {
            for j in 0..<d { diff[j] = Double(x[i, j]) - means[k * d + j] }
            var q = 0.0
            for a in 0..<d {
                var row = 0.0
                for b in 0..<d { row += precision[a * d + b] * diff[b] }
                q += diff[a] * row
            }
            best = max(best, -q)
        }
        return best
    }
}
