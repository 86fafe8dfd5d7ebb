import FulcrumCurvature
import FulcrumKernels

/// Family `hvp`: the softmax-CE linear-head Hessian-vector product (N samples, D features,
/// C classes) against the GEMMs it contains, timed alone on the same buffers in the same run
/// (`gemm_ratio` = kernel time ÷ GEMM time), and against a plain scalar Swift HVP.
func hessianBenchmarks(_ context: BenchContext) throws {
    let names = ["hvp product", "hvp batch8", "hvp prepare+product", "hvp lanczos20"]
    guard names.contains(where: context.wants) else { return }
    let (n, d, c) = context.quick ? (512, 64, 100) : (8192, 512, 1000)
    let shape = "\(n)x\(d) C=\(c)"
    var random = BenchRandom(seed: 42)
    let features = random.floats(n * d, -1, 1)
    let weights = random.floats(c * d, -0.05, 0.05)
    let bias = random.floats(c, -0.1, 0.1)
    let targets = (0..<n).map { _ in Int32(random.below(c)) }
    let dim = c * d + c
    let batch = 8
    let directions = random.floats(batch * dim, -1, 1)
    var out = [Float](repeating: 0, count: batch * dim)
    let gflop = 4 * Double(n) * Double(c) * Double(d) * 1e-9  // two N×C×D GEMMs

    /// Calls `body` with views of the head's data.
    func withData<R>(_ body: (MatrixView<Float>, MatrixView<Float>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Int32>) throws -> R) throws -> R {
        try features.withUnsafeBufferPointer { f in
            try weights.withUnsafeBufferPointer { w in
                try bias.withUnsafeBufferPointer { b in
                    try targets.withUnsafeBufferPointer { t in
                        try body(MatrixView(f, rows: n, columns: d), MatrixView(w, rows: c, columns: d), b, t)
                    }
                }
            }
        }
    }
    func prepare() throws -> LinearHeadHessian<Float> {
        try withData { f, w, b, t in try LinearHeadHessian(features: f, weights: w, bias: b, targets: t) }
    }
    func product(_ op: LinearHeadHessian<Float>, _ k: Int) throws {
        try directions.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { y in
                try op.apply(MatrixView(x, rows: k, columns: dim), into: MutableMatrixView(y, rows: k, columns: dim))
            }
        }
    }

    // The GEMMs alone: logits F·Wᵀ, forward F·Vᵀ, backward Rᵀ·F, on buffers of the same shapes.
    var z = [Float](repeating: 0, count: n * c)
    var grad = [Float](repeating: 0, count: c * d)
    func gemms(forward: Int, backward: Int, logits: Bool = false) throws {
        try features.withUnsafeBufferPointer { f in
            try z.withUnsafeMutableBufferPointer { zb in
                try grad.withUnsafeMutableBufferPointer { gb in
                    let fv = try MatrixView(f, rows: n, columns: d)
                    let zv = try MutableMatrixView(zb, rows: n, columns: c)
                    let gv = try MutableMatrixView(gb, rows: c, columns: d)
                    if logits { try weights.withUnsafeBufferPointer { try BLAS.gemm(fv, MatrixView($0, rows: c, columns: d), transposeB: true, into: zv) } }
                    for j in 0..<forward {
                        try directions.withUnsafeBufferPointer {
                            try BLAS.gemm(fv, MatrixView(UnsafeBufferPointer(rebasing: $0[(j * dim)..<(j * dim + c * d)]), rows: c, columns: d),
                                          transposeB: true, into: zv)
                        }
                    }
                    for _ in 0..<backward { try BLAS.gemm(MatrixView(zv), transposeA: true, fv, into: gv) }
                }
            }
        }
    }

    let gemmRate = 4 * Double(n) * Double(c) * Double(d) * 1e-9
        / (2 * Double(n) * Double(c) * Double(d) * 1e-9 / context.limits.gemmGFLOPs(Float.self, m: n, n: c, k: d, transposeB: true)
           + 2 * Double(n) * Double(c) * Double(d) * 1e-9 / context.limits.gemmGFLOPs(Float.self, m: c, n: d, k: n, transposeA: true))
    let plainSeconds = plainHVPSeconds(context, n: n, d: d, c: c, features: features, directions: directions)
    let op = try prepare()
    let extra = Double((n * d + 2 * n * c) * MemoryLayout<Float>.stride) / 1_048_576

    if context.wants("hvp product") {
        let (t, ratio) = try interleavedMedians(context, { try product(op, 1) }, { try gemms(forward: 1, backward: 1) })
        context.report(BenchRow(name: "hvp product", shape: shape, medianMs: t * 1e3, achieved: gflop / t, unit: "GFLOP/s",
                                rooflineRatio: gflop / t / gemmRate, baselineSpeedup: plainSeconds / t, gemmRatio: ratio,
                                extraMiB: extra, note: "P prepared; target gemm_ratio <= 1.10"))
    }
    if context.wants("hvp batch8") {
        let (t, ratio) = try interleavedMedians(context, { try product(op, batch) }, { try gemms(forward: batch, backward: batch) })
        context.report(BenchRow(name: "hvp batch8", shape: shape, medianMs: t * 1e3, achieved: Double(batch) * gflop / t, unit: "GFLOP/s",
                                rooflineRatio: Double(batch) * gflop / t / gemmRate, baselineSpeedup: Double(batch) * plainSeconds / t,
                                gemmRatio: ratio, extraMiB: extra + Double(batch - 1) * Double(n * c * 4) / 1_048_576,
                                note: "8 directions per call"))
    }
    if context.wants("hvp prepare+product") {
        // Re-preparing the operator at the step's data (`update`, as in a training loop) + one product.
        let (t, ratio) = try interleavedMedians(context, {
            try withData { f, w, b, t in try op.update(features: f, weights: w, bias: b, targets: t) }
            try product(op, 1)
        }, { try gemms(forward: 1, backward: 1, logits: true) })
        let flops = 1.5 * gflop
        context.report(BenchRow(name: "hvp prepare+product", shape: shape, medianMs: t * 1e3, achieved: flops / t, unit: "GFLOP/s",
                                rooflineRatio: flops / t / gemmRate, baselineSpeedup: nil, gemmRatio: ratio, extraMiB: extra,
                                note: "update (logits GEMM + CE softmax) + product; target <= 1.10"))
    }
    if context.wants("hvp lanczos20") {
        let steps = 20
        var generator = SplitMix64(seed: 3)
        let (t, ratio) = try interleavedMedians(context, runs: 3, {
            _ = try Lanczos.eigenpairs(of: op, count: 1, steps: steps, using: &generator)
        }, { for _ in 0..<steps { try gemms(forward: 1, backward: 1) } })
        context.report(BenchRow(name: "hvp lanczos20", shape: shape, medianMs: t * 1e3, achieved: Double(steps) * gflop / t, unit: "GFLOP/s",
                                rooflineRatio: Double(steps) * gflop / t / gemmRate, baselineSpeedup: Double(steps) * plainSeconds / t,
                                gemmRatio: ratio, extraMiB: extra + Double(steps * dim * 4) / 1_048_576,
                                note: "20 steps, full reorthogonalisation"))
    }
}

/// Medians of `kernel` and `gemms` timed alternately (kernel, GEMMs, kernel, …) after one warm-up
/// of each, so that both see the same load on a shared machine, and the median of the per-pair
/// ratios (the `gemm_ratio` reported).
private func interleavedMedians(
    _ context: BenchContext, runs: Int? = nil, _ kernel: () throws -> Void, _ gemms: () throws -> Void
) throws -> (kernel: Double, ratio: Double) {
    try kernel()
    try gemms()
    var a: [Double] = [], b: [Double] = []
    for _ in 0..<(runs ?? (context.quick ? 3 : 7)) {
        a.append(try context.median(runs: 1, warmUp: 0, kernel))
        b.append(try context.median(runs: 1, warmUp: 0, gemms))
    }
    let ratios = zip(a, b).map { $0 / $1 }.sorted()
    return (a.sorted()[a.count / 2], ratios[ratios.count / 2])
}

/// Seconds of one plain scalar Swift HVP (row by row: z = V·x_n + v_b, r = p∘z − p·(p·z),
/// HV += r ⊗ x_n), timed on a slice of the rows and scaled to N (its cost is linear in N).
private func plainHVPSeconds(_ context: BenchContext, n: Int, d: Int, c: Int, features: [Float], directions: [Float]) -> Double {
    let rows = context.quick ? n : n / 16
    var p = [Float](repeating: 1 / Float(c), count: c)
    p[0] += 0.5
    var hv = [Float](repeating: 0, count: c * d + c)
    var z = [Float](repeating: 0, count: c)
    let seconds = context.median(runs: 1, warmUp: 0) {
        features.withUnsafeBufferPointer { x in
            directions.withUnsafeBufferPointer { v in
                hv.withUnsafeMutableBufferPointer { out in
                    for i in 0..<rows {
                        let xi = x.baseAddress! + i * d
                        var s: Float = 0
                        for cls in 0..<c {
                            var acc = v[c * d + cls]
                            for k in 0..<d { acc += v[cls * d + k] * xi[k] }
                            z[cls] = acc
                            s += p[cls] * acc
                        }
                        for cls in 0..<c {
                            let r = (p[cls] * z[cls] - p[cls] * s) / Float(n)
                            for k in 0..<d { out[cls * d + k] += r * xi[k] }
                            out[c * d + cls] += r
                        }
                    }
                }
            }
        }
    }
    return seconds * Double(n) / Double(rows)
}
