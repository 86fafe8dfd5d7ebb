import Foundation
import FulcrumKernels
import FulcrumMoE

/// Family `gating`: the router forward (scores, top-k, weights, counts, load-balancing loss,
/// z-loss) and forward + backward, against max(ideal bytes / copy bandwidth, exponentials / exp
/// rate) and a plain scalar Swift router timed in the same run. Its targets are times, and its
/// logits (16–64 MiB) are timed back to back with warm caches, as a training step's router runs
/// on the gate's fresh output: the limits are the run's start-up figures, not samples between
/// runs (`BenchContext.timedAgainstLimits` would flush the caches before every run). The
/// forward+backward row's "x fwd" is the median ratio of alternately timed pairs.
func gatingBenchmarks(_ context: BenchContext) throws {
    let n = context.quick ? 4096 : 65536
    let shapes: [(experts: Int, nulls: Int, k: Int, shape: String, forwardTarget: Double?)] = [
        (64, 0, 2, "\(n)x64 k=2", 3),
        (256, 0, 8, "\(n)x256 k=8", 12),
        (64, 8, 4, "\(n)x(64+8 null) k=4", nil),
    ]
    for s in shapes where context.wants("gating fwd") || context.wants("gating fwd+bwd") {
        let c = GatingConfiguration(expertCount: s.experts, topK: s.k, nullExpertCount: s.nulls)
        try GatingBenchCase(context, configuration: c, tokens: n).run(shape: s.shape, forwardTargetMs: context.quick ? nil : s.forwardTarget)
    }
}

/// Buffers and timings of one shape.
private final class GatingBenchCase {
    let context: BenchContext
    let c: GatingConfiguration
    let n: Int, experts: Int, k: Int
    let logits: [Float]
    var indices: [Int32], weights: [Float], lse: [Float], real: [Int32], counts: [Int64], sums: [Double]
    var gradient: [Float]
    let upstream: [Float]

    init(_ context: BenchContext, configuration: GatingConfiguration, tokens: Int) {
        self.context = context
        c = configuration
        n = tokens
        experts = configuration.totalExpertCount
        k = configuration.topK
        var random = BenchRandom(seed: 42)
        logits = random.floats(n * experts, -4, 4)
        upstream = random.floats(n * k, -1, 1)
        indices = Array(repeating: 0, count: n * k)
        weights = Array(repeating: 0, count: n * k)
        lse = Array(repeating: 0, count: n)
        real = Array(repeating: 0, count: n)
        counts = Array(repeating: 0, count: experts)
        sums = Array(repeating: 0, count: experts)
        gradient = Array(repeating: 0, count: n * experts)
    }

    /// Fulcrum forward: route, then the micro-batch LBL (α = 0.01) and the z-loss (β = 0.001).
    func forward() throws -> (BalanceLoss, Float) {
        try logits.withUnsafeBufferPointer { x in
            try indices.withUnsafeMutableBufferPointer { idx in try weights.withUnsafeMutableBufferPointer { w in
                try lse.withUnsafeMutableBufferPointer { l in try real.withUnsafeMutableBufferPointer { r in
                    try counts.withUnsafeMutableBufferPointer { cnt in try sums.withUnsafeMutableBufferPointer { sm in
                        let outputs = GatingOutputs(
                            indices: try MutableMatrixView(idx, rows: n, columns: k), weights: try MutableMatrixView(w, rows: n, columns: k),
                            logSumExp: l, realExpertCounts: r,
                            expertCounts: try MutableMatrixView(cnt, rows: 1, columns: experts),
                            scoreSums: try MutableMatrixView(sm, rows: 1, columns: experts))
                        try Gating.forward(logits: try MatrixView(x, rows: n, columns: experts), configuration: c, into: outputs)
                    } }
                } }
            } }
        }
        let balance = try LoadBalancingLoss(configuration: c, coefficient: 0.01).microBatch(counts: counts, scoreSums: sums, tokenCount: n)
        let z = try lse.withUnsafeBufferPointer { try RouterZLoss.evaluate(logSumExp: $0, coefficient: 1e-3) }
        return (balance, z.gradientCoefficient)
    }

    func backward(_ balance: BalanceLoss, _ gamma: Float) throws {
        try logits.withUnsafeBufferPointer { x in try indices.withUnsafeBufferPointer { idx in
            try upstream.withUnsafeBufferPointer { g in try lse.withUnsafeBufferPointer { l in
                try gradient.withUnsafeMutableBufferPointer { out in
                    try balance.coefficients.withView { cv in
                        try Gating.backward(
                            logits: try MatrixView(x, rows: n, columns: experts), configuration: c,
                            indices: try MatrixView(idx, rows: n, columns: k), logSumExp: l,
                            weightGradients: try MatrixView(g, rows: n, columns: k), balanceCoefficients: cv,
                            zLossCoefficient: gamma, into: try MutableMatrixView(out, rows: n, columns: experts))
                    }
                }
            } }
        } }
    }

    func run(shape: String, forwardTargetMs: Double?) throws {
        let limits = context.limits
        let floatBytes = Double(MemoryLayout<Float>.size)
        // Ideal traffic: logits read once; indices, weights, lse, real counts written once.
        let forwardBytes = Double(n * experts) * floatBytes + Double(n * k) * 8 + Double(n) * 8
        // Backward: logits, indices, lse and ∂L/∂w read once, the gradient written once.
        let backwardBytes = Double(n * experts) * floatBytes * 2 + Double(n * k) * 8 + Double(n) * 4
        let forwardExps = Double(n * (experts + k)), backwardExps = Double(n * (experts + k))
        func rooflineSeconds(_ bytes: Double, _ exps: Double) -> (Double, Double) {
            (bytes / (limits.copyAllThreads * 1e9), exps / (limits.expGelemsPerSecond * 1e9))
        }
        let runs = context.quick ? 3 : 11
        let plain = PlainGatingBaseline(c, logits: logits, upstream: upstream, tokens: n)
        if context.wants("gating fwd") {
            let t = try context.median(runs: runs, warmUp: 2) { _ = try forward() }
            let base = context.median(runs: context.quick ? 1 : 3, warmUp: 0) { plain.forward() }
            let (memory, exps) = rooflineSeconds(forwardBytes, forwardExps)
            let limit = max(memory, exps)
            context.report(BenchRow(
                name: "gating fwd", shape: shape, medianMs: t * 1e3, achieved: forwardBytes / t * 1e-9, unit: "GB/s",
                rooflineRatio: limit / t, baselineSpeedup: base / t,
                note: String(format: "limit %@: bytes %.2f ms, exp %.2f ms", memory > exps ? "bytes" : "exp", memory * 1e3, exps * 1e3)
                    + (forwardTargetMs.map { String(format: "; target <= %.0f ms", $0) } ?? "")))
        }
        if context.wants("gating fwd+bwd") {
            func step() throws {
                let (balance, gamma) = try forward()
                try backward(balance, gamma)
            }
            // The forward alone and the forward+backward in alternation, each pair a few ms
            // apart: the median of the pairs' ratios compares runs of the same moments of a
            // shared host (two medians taken a second apart can differ by half). The row's time
            // is the median of the pairs' forward+backward runs.
            try step(); try step()
            var ratios: [Double] = [], steps: [Double] = []
            for _ in 0..<runs {
                let forwardOnly = try context.median(runs: 1, warmUp: 0) { _ = try forward() }
                steps.append(try context.median(runs: 1, warmUp: 0) { try step() })
                ratios.append(steps.last! / forwardOnly)
            }
            let t = BenchContext.middle(steps)
            let base = context.median(runs: context.quick ? 1 : 3, warmUp: 0) { plain.forward(); plain.backward() }
            let (memory, exps) = rooflineSeconds(forwardBytes + backwardBytes, forwardExps + backwardExps)
            let limit = max(memory, exps)
            context.report(BenchRow(
                name: "gating fwd+bwd", shape: shape, medianMs: t * 1e3, achieved: (forwardBytes + backwardBytes) / t * 1e-9,
                unit: "GB/s", rooflineRatio: limit / t, baselineSpeedup: base / t,
                note: String(format: "limit %@: bytes %.2f ms, exp %.2f ms; %.2fx fwd (target <= 2.5x)",
                             memory > exps ? "bytes" : "exp", memory * 1e3, exps * 1e3, BenchContext.middle(ratios))))
        }
    }
}

/// The plain Swift router the speedups compare against: softmax, top-k by insertion, softmax over
/// the selected, counts, score sums, LBL and z-loss; and the matching backward. Scalar, one thread.
private final class PlainGatingBaseline {
    let c: GatingConfiguration
    let logits: [Float], upstream: [Float]
    let n: Int, experts: Int, k: Int
    var indices: [Int], weights: [Float], lse: [Float], counts: [Int], sums: [Double], gradient: [Float]
    var coefficients: [Double] = [], gamma: Float = 0, loss = 0.0

    init(_ c: GatingConfiguration, logits: [Float], upstream: [Float], tokens: Int) {
        self.c = c
        self.logits = logits
        self.upstream = upstream
        n = tokens
        experts = c.totalExpertCount
        k = c.topK
        indices = Array(repeating: 0, count: n * k)
        weights = Array(repeating: 0, count: n * k)
        lse = Array(repeating: 0, count: n)
        counts = Array(repeating: 0, count: experts)
        sums = Array(repeating: 0, count: experts)
        gradient = Array(repeating: 0, count: n * experts)
    }

    func selectedSoftmax(_ t: Int) -> [Float] {
        let chosen = (0..<k).map { logits[t * experts + indices[t * k + $0]] }
        let m = chosen.max()!
        let e = chosen.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func forward() {
        for e in 0..<experts { counts[e] = 0; sums[e] = 0 }
        var zTotal = 0.0
        for t in 0..<n {
            let row = t * experts
            var m = -Float.infinity
            for j in 0..<experts { m = max(m, logits[row + j]) }
            var s: Float = 0
            for j in 0..<experts { s += Foundation.exp(logits[row + j] - m) }
            for j in 0..<experts { sums[j] += Double(Foundation.exp(logits[row + j] - m) / s) }
            lse[t] = m + Foundation.log(s)
            zTotal += Double(lse[t]) * Double(lse[t])
            var best: [Int] = []
            for j in 0..<experts {
                let position = best.firstIndex { logits[row + $0] < logits[row + j] } ?? best.count
                if position < k { best.insert(j, at: position); if best.count > k { best.removeLast() } }
            }
            for a in 0..<k { indices[t * k + a] = best[a]; counts[best[a]] += 1 }
            let w = selectedSoftmax(t)
            for a in 0..<k { weights[t * k + a] = w[a] }
        }
        let scale = 0.01 * Double(experts) / Double(n)
        coefficients = (0..<experts).map { scale * Double(counts[$0]) / Double(k * n) }
        loss = zip(coefficients, sums).reduce(0) { $0 + $1.0 * $1.1 } + 1e-3 * zTotal / Double(n)
        gamma = Float(1e-3 / Double(n))
    }

    func backward() {
        for t in 0..<n {
            let row = t * experts
            var dot = 0.0
            for j in 0..<experts {
                let p = Foundation.exp(logits[row + j] - lse[t])
                gradient[row + j] = p
                dot += coefficients[j] * Double(p)
            }
            for j in 0..<experts {
                gradient[row + j] *= Float(coefficients[j] - dot) + 2 * gamma * lse[t]
            }
            let w = selectedSoftmax(t)
            var mean: Float = 0
            for a in 0..<k { mean += upstream[t * k + a] * w[a] }
            for a in 0..<k { gradient[row + indices[t * k + a]] += w[a] * (upstream[t * k + a] - mean) }
        }
    }
}
