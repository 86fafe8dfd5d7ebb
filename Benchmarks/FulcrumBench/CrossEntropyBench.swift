import Foundation
import FulcrumKernels

/// Families `cross-entropy` (the fused softmax-CE kernel, in place, mean reduction) and
/// `linear-cross-entropy` (the fused linear CE against its own GEMMs).
func crossEntropyBenchmarks(_ context: BenchContext) throws {
    let shapes = context.quick ? [(256, 4096), (1024, 1024), (4096, 128)] : [(4096, 32768), (16384, 1024), (65536, 128)]
    for (rows, classes) in shapes {
        try crossEntropyCase(context, rows: rows, classes: classes)
    }
    let (n, h, v) = context.quick ? (256, 128, 4096) : (2048, 1024, 32768)
    try linearCrossEntropyCase(context, rows: n, hidden: h, classes: v)
}

/// Softmax-CE forward+backward, gradient written over the logits.
private func crossEntropyCase(_ context: BenchContext, rows: Int, classes: Int) throws {
    let name = "cross-entropy fwd+bwd mean"
    guard context.wants(name) else { return }
    var random = BenchRandom(seed: 11)
    let count = rows * classes
    let logits = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    defer { logits.deallocate() }
    for i in 0..<count { logits[i] = Float(random.uniform(-8, 8)) }
    let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
    let view = MutableMatrixView(unchecked: logits.baseAddress, rows: rows, columns: classes, rowStride: classes)
    let loss = SoftmaxCrossEntropy<Float>()
    // The kernel's work does not depend on the values, so repeated in-place runs time the same work.
    let timing = try targets.withUnsafeBufferPointer { t in
        try context.timedAgainstLimits(warmUp: 2) { _ = try loss.lossAndGradient(inPlace: view, targets: t) }
    }
    let seconds = timing.seconds
    for i in 0..<count { logits[i] = Float(random.uniform(-8, 8)) }
    let baseline = context.median(runs: context.quick ? 1 : 3, warmUp: 0) {
        plainCrossEntropy(logits: UnsafePointer(logits.baseAddress!), rows: rows, classes: classes, targets: targets)
    }
    let bytes = 2 * Double(count) * Double(MemoryLayout<Float>.stride)
    context.report(BenchRow(
        name: name, shape: "\(rows)x\(classes)", medianMs: seconds * 1e3, achieved: bytes / seconds * 1e-9, unit: "GB/s",
        rooflineRatio: timing.copyRatio(bytes: bytes), baselineSpeedup: baseline / seconds,
        note: "in place; limit: stream copy sampled before each run, median \(Table.fmt(timing.copyGBs, 1)) GB/s"))
}

/// The obviously-correct scalar softmax-CE (mean) with its gradient into a separate buffer: the
/// baseline every Fulcrum kernel is compared with. One thread, libm `expf`.
private func plainCrossEntropy(logits: UnsafePointer<Float>, rows: Int, classes: Int, targets: [Int32]) {
    let gradient = UnsafeMutablePointer<Float>.allocate(capacity: classes)
    defer { gradient.deallocate() }
    var total = 0.0
    for n in 0..<rows {
        let row = logits + n * classes
        var m = -Float.infinity
        for j in 0..<classes { m = max(m, row[j]) }
        var s: Float = 0
        for j in 0..<classes { s += expf(row[j] - m) }
        let y = Int(targets[n])
        total += Double(logf(s) + m - row[y])
        for j in 0..<classes { gradient[j] = expf(row[j] - m) / s / Float(rows) }
        gradient[y] -= 1 / Float(rows)
    }
    blackHole(total + Double(gradient[0]))
}

/// Fused linear CE at N×H×V against the same chunked GEMMs alone.
private func linearCrossEntropyCase(_ context: BenchContext, rows n: Int, hidden h: Int, classes v: Int) throws {
    let name = "linear-cross-entropy fwd+bwd mean"
    guard context.wants(name) else { return }
    var random = BenchRandom(seed: 12)
    let x = random.floats(n * h, -1, 1), w = random.floats(v * h, -0.05, 0.05)
    let targets = (0..<n).map { _ in Int32(random.below(v)) }
    var dX = [Float](repeating: 0, count: n * h), dW = [Float](repeating: 0, count: v * h)
    let op = LinearCrossEntropy<Float>()
    let chunk = min(n, op.chunkRows(classes: v))
    var logits = [Float](repeating: 0, count: chunk * v)
    let (fused, gemms) = try x.withUnsafeBufferPointer { px in try w.withUnsafeBufferPointer { pw in
        try targets.withUnsafeBufferPointer { t in try dX.withUnsafeMutableBufferPointer { gx in
            try dW.withUnsafeMutableBufferPointer { gw in try logits.withUnsafeMutableBufferPointer { pl in
                let xv = MatrixView(unchecked: px.baseAddress, rows: n, columns: h, rowStride: h)
                let wv = MatrixView(unchecked: pw.baseAddress, rows: v, columns: h, rowStride: h)
                let gxv = MutableMatrixView(unchecked: gx.baseAddress, rows: n, columns: h, rowStride: h)
                let gwv = MutableMatrixView(unchecked: gw.baseAddress, rows: v, columns: h, rowStride: h)
                let fused = try context.median(runs: context.quick ? 3 : 5) {
                    _ = try op.lossAndGradients(hidden: xv, weight: wv, targets: t, hiddenGradient: gxv, weightGradient: gwv)
                }
                // The same three GEMM calls per chunk, without the cross-entropy between them.
                let gemms = try context.median(runs: context.quick ? 3 : 5) {
                    for start in stride(from: 0, to: n, by: chunk) {
                        let r = start ..< min(n, start + chunk)
                        let lv = MutableMatrixView(unchecked: pl.baseAddress, rows: r.count, columns: v, rowStride: v)
                        try BLAS.gemm(xv.rows(r), wv, transposeB: true, into: lv)
                        try BLAS.gemm(MatrixView(lv), wv, into: gxv.rows(r))
                        try BLAS.gemm(MatrixView(lv), transposeA: true, xv.rows(r), into: gwv, beta: start == 0 ? 0 : 1)
                    }
                }
                return (fused, gemms)
            } }
        } }
    } }
    let flops = 6 * Double(n) * Double(h) * Double(v)
    context.report(BenchRow(
        name: name, shape: "\(n)x\(h)x\(v)", medianMs: fused * 1e3, achieved: flops / fused * 1e-9, unit: "GFLOP/s",
        rooflineRatio: gemms / fused, gemmRatio: fused / gemms,
        extraMiB: Double(chunk * v * MemoryLayout<Float>.stride) / 1_048_576,
        note: "N x H x V; limit: its GEMMs alone \(Table.fmt(flops / gemms * 1e-9, 0)) GFLOP/s"))
}

/// Keeps a value alive so the optimizer cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
