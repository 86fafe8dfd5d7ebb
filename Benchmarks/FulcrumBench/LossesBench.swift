import Foundation
import FulcrumKernels
import FulcrumLosses

/// Family `loss-…`: every FulcrumLosses loss, forward+backward (Float, mean reduction; the
/// gradient written over the logits where the loss allows it, as the cross-entropy family does,
/// else into its own buffer). The roofline is max(ideal bytes ÷ stream-copy bandwidth,
/// transcendentals ÷ vector exp rate), both sampled between the case's own runs.
/// Ideal bytes count every N×C tensor the loss must move once: logits read + gradient written
/// (2); two inputs per element, KD's teacher row or BCE's targets (3). A preference step needs
/// every token of a pair before its backward: when a pair's rows fit the step's cache block
/// (`pairBlockBytes`) the logits are read once (2, one softmax per element), else twice (3, and
/// two softmaxes). Transcendentals per element: 1 for a softmax (GCE, LDR-KL), 2 for KD's two
/// softmaxes and ALDR-KL's two passes, 2 for BCE (one exponential and one log1p, which runs as a
/// division and a polynomial), 0 for the Z-loss. The entropy-temperature row times one evaluation
/// of H̄(T) against its plain scalar pass, without a roofline.
func lossesBenchmarks(_ context: BenchContext) throws {
    let shapes = context.quick ? [(128, 1024), (16, 8192)] : [(16384, 1024), (4096, 32768)]
    for (rows, classes) in shapes {
        // The buffers are large: allocate them only when a case of this family will run.
        let names = ["loss-gce fwd+bwd", "loss-kd-forward fwd+bwd", "loss-kd-bdkd fwd+bwd", "loss-dpo fwd+bwd", "loss-bce fwd+bwd",
                     "loss-bce-focal fwd+bwd", "loss-ldr-kl fwd+bwd", "loss-aldr-kl fwd+bwd", "loss-z fwd+bwd",
                     "loss-entropy-temperature H(T)"]
        guard names.contains(where: { name in context.options.filter.map { name.contains($0) || $0.hasPrefix(name) } ?? true }) else { continue }
        let buffers = LossBenchBuffers(rows: rows, classes: classes)
        defer { buffers.deallocate() }
        try lossCases(context, buffers)
    }
}

/// Three N×C Float buffers (inputs, second inputs, gradient) and N targets, reused by every case.
struct LossBenchBuffers {
    let rows: Int, classes: Int
    let x: UnsafeMutableBufferPointer<Float>, second: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>
    let targets: [Int32]

    init(rows: Int, classes: Int) {
        self.rows = rows
        self.classes = classes
        var random = BenchRandom(seed: 21)
        let count = rows * classes
        x = .allocate(capacity: count)
        second = .allocate(capacity: count)
        gradient = .allocate(capacity: count)
        for i in 0..<count {
            x[i] = Float(random.uniform(-8, 8))
            second[i] = Float(random.uniform(-8, 8))
        }
        gradient.initialize(repeating: 0)
        targets = (0..<rows).map { _ in Int32(random.below(classes)) }
    }

    func view(_ buffer: UnsafeMutableBufferPointer<Float>, rows range: Range<Int>? = nil) -> MatrixView<Float> {
        let r = range ?? 0..<rows
        return MatrixView(unchecked: buffer.baseAddress! + r.lowerBound * classes, rows: r.count, columns: classes, rowStride: classes)
    }

    func mutableView(rows range: Range<Int>? = nil) -> MutableMatrixView<Float> {
        let r = range ?? 0..<rows
        return MutableMatrixView(unchecked: gradient.baseAddress! + r.lowerBound * classes, rows: r.count, columns: classes, rowStride: classes)
    }

    func deallocate() {
        x.deallocate()
        second.deallocate()
        gradient.deallocate()
    }
}

private func lossCases(_ context: BenchContext, _ b: LossBenchBuffers) throws {
    let (rows, classes) = (b.rows, b.classes)
    let x = b.view(b.x), second = b.view(b.second), g = b.mutableView()
    // In place: the losses' work does not depend on the values, so repeated runs time the same work.
    let inPlace = MutableMatrixView(unchecked: b.x.baseAddress, rows: rows, columns: classes, rowStride: classes)
    try b.targets.withUnsafeBufferPointer { y in
        try report(context, "loss-gce fwd+bwd mean", b, streams: 2, transcendentals: 1, baseline: { plainGeneralizedCrossEntropy(b, q: 0.7) }) {
            _ = try CompSumLoss<Float>.generalizedCrossEntropy(q: 0.7).lossAndGradient(inPlace: inPlace, targets: y)
        }
        try report(context, "loss-kd-forward fwd+bwd T=4", b, streams: 3, transcendentals: 2, baseline: { plainDistillation(b, temperature: 4) }) {
            _ = try DistillationLoss<Float>(temperature: 4).lossAndGradient(studentLogits: x, teacherLogits: second, studentGradient: inPlace)
        }
        try report(context, "loss-kd-bdkd fwd+bwd T=4", b, streams: 3, transcendentals: 2) {
            _ = try DistillationLoss<Float>(temperature: 4, balance: .entropyGap(amplification: 2))
                .lossAndGradient(studentLogits: x, teacherLogits: second, studentGradient: inPlace)
        }
        if rows % 2 == 0 {
            let half = rows / 2, length = max(1, min(half, 64))
            if half % length == 0 {
                let pairs = half / length
                let reference = [Float](repeating: -1000, count: pairs)
                let step = PreferenceOptimization<Float>(loss: PreferenceLoss(.dpo, beta: 0.1), sequenceLength: length)
                let cached = 2 * length * classes * MemoryLayout<Float>.stride <= step.pairBlockBytes
                // In place where the step allows it (the cached path), as the other losses.
                let gradient = cached ? inPlace : g
                try reference.withUnsafeBufferPointer { r in
                    try report(context, "loss-dpo fwd+bwd L=\(length)", b, streams: cached ? 2 : 3, transcendentals: cached ? 1 : 2) {
                        _ = try step.lossAndGradient(
                            chosenLogits: b.view(b.x, rows: 0..<half), chosenTargets: UnsafeBufferPointer(rebasing: y[0..<half]),
                            rejectedLogits: b.view(b.x, rows: half..<rows), rejectedTargets: UnsafeBufferPointer(rebasing: y[half...]),
                            referenceChosen: r, referenceRejected: r,
                            chosenGradient: gradient.rows(0..<half), rejectedGradient: gradient.rows(half..<rows))
                    }
                }
            }
        }
        if context.wants("loss-bce fwd+bwd mean") || context.wants("loss-bce-focal fwd+bwd gamma=2") {
            // Targets in {0, 1}: the second buffer thresholded (the KD cases above are done with it).
            for i in 0..<(rows * classes) { b.second[i] = b.second[i] > 0 ? 1 : 0 }
            try report(context, "loss-bce fwd+bwd mean", b, streams: 3, transcendentals: 2, baseline: { plainBinaryCrossEntropy(b) }) {
                _ = try SigmoidBinaryCrossEntropy<Float>().lossAndGradient(logits: x, targets: second, gradient: inPlace)
            }
            try report(context, "loss-bce-focal fwd+bwd gamma=2", b, streams: 3, transcendentals: 2) {
                _ = try SigmoidBinaryCrossEntropy<Float>(focalGamma: 2, focalAlpha: 0.25).lossAndGradient(logits: x, targets: second, gradient: inPlace)
            }
        }
        try report(context, "loss-ldr-kl fwd+bwd lambda=0.5", b, streams: 2, transcendentals: 1) {
            _ = try LabelDistributionallyRobustLoss<Float>(lambda: 0.5, margin: 0.1).lossAndGradient(logits: x, targets: y, gradient: inPlace)
        }
        // The temperatures move towards their fixed point from run to run; the work does not change.
        var temperatures = [Float](repeating: 0.5, count: rows)
        try temperatures.withUnsafeMutableBufferPointer { lambdas in
            try report(context, "loss-aldr-kl fwd+bwd alpha=2", b, streams: 2, transcendentals: 2) {
                _ = try LabelDistributionallyRobustLoss<Float>(lambda: 0.5, margin: 0.1)
                    .adaptiveLossAndGradient(logits: x, targets: y, gradient: inPlace, instanceTemperatures: lambdas, alpha: 2)
            }
        }
        // Not in place: the Z-loss gradient scales as 1/std of its input, so repeated in-place runs
        // would drift to overflow.
        try report(context, "loss-z fwd+bwd", b, streams: 2, transcendentals: 0) {
            _ = try SphericalZLoss<Float>(a: 1, b: 2).lossAndGradient(logits: x, targets: y, gradient: g)
        }
        // One evaluation of H̄(T), the step of the teacher-temperature solve of multi-teacher
        // distillation: Double exponentials, against the plain scalar Double pass; no roofline row
        // (the run measures no Double exp rate).
        let entropyName = "loss-entropy-temperature H(T)"
        if context.wants(entropyName) {
            let seconds = try context.median { _ = try EntropyTemperature.meanEntropy(logits: x, temperature: 2) }
            let plain = context.median(runs: context.quick ? 1 : 3, warmUp: 0) { plainMeanEntropy(b, temperature: 2) }
            context.report(BenchRow(name: entropyName, shape: "\(rows)x\(classes)", medianMs: seconds * 1e3,
                                    achieved: Double(rows * classes) / seconds * 1e-9, unit: "Gelem/s", rooflineRatio: nil,
                                    baselineSpeedup: plain / seconds, note: "1 Double exp/elem, 2 reads per row; T = 2"))
        }
    }
}

/// Times `body`, and the scalar baseline when given, and reports the row against
/// max(bytes ÷ copy bandwidth, transcendentals ÷ exp rate), both sampled before each run (the
/// ratio is the median of the runs' own; the note's limits are from the median samples).
private func report(_ context: BenchContext, _ name: String, _ b: LossBenchBuffers, streams: Int, transcendentals: Int,
                    baseline: (() -> Void)? = nil, _ body: () throws -> Void) throws {
    guard context.wants(name) else { return }
    let timing = try context.timedAgainstLimits(warmUp: 2, body)
    let seconds = timing.seconds
    let plain = baseline.map { run in context.median(runs: context.quick ? 1 : 3, warmUp: 0, run) }
    let elements = Double(b.rows * b.classes)
    let bytes = Double(streams) * elements * Double(MemoryLayout<Float>.stride)
    let transcendentalCount = Double(transcendentals) * elements
    func limits(copyGBs: Double, expGelemsPerSecond: Double) -> (memory: Double, exps: Double) {
        (bytes / (copyGBs * 1e9), transcendentalCount / (expGelemsPerSecond * 1e9))
    }
    let (memory, exps) = limits(copyGBs: timing.copyGBs, expGelemsPerSecond: timing.expGelemsPerSecond)
    let ratio = timing.rooflineRatio { run in
        let limit = limits(copyGBs: run.copyGBs, expGelemsPerSecond: run.expGelemsPerSecond)
        return max(limit.memory, limit.exps)
    }
    context.report(BenchRow(
        name: name, shape: "\(b.rows)x\(b.classes)", medianMs: seconds * 1e3, achieved: bytes / seconds * 1e-9, unit: "GB/s",
        rooflineRatio: ratio, baselineSpeedup: plain.map { $0 / seconds },
        note: String(format: "%d NxC streams, %d exp/elem; limit %@: bytes %.1f ms, exp %.1f ms", streams, transcendentals,
                     memory >= exps ? "bytes" : "exp", memory * 1e3, exps * 1e3)))
}

// Plain, obviously-correct scalar baselines (one thread, libm), gradient into a row buffer.

/// Softmax of one row into `p`; returns the log-sum-exp.
private func plainSoftmax(_ row: UnsafePointer<Float>, _ classes: Int, scale: Float, into p: UnsafeMutablePointer<Float>) -> Float {
    var m = -Float.infinity
    for j in 0..<classes { m = max(m, row[j] * scale) }
    var s: Float = 0
    for j in 0..<classes {
        p[j] = expf(row[j] * scale - m)
        s += p[j]
    }
    for j in 0..<classes { p[j] /= s }
    return m + logf(s)
}

private func plainGeneralizedCrossEntropy(_ b: LossBenchBuffers, q: Float) {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: b.classes)
    defer { p.deallocate() }
    var total = 0.0
    for n in 0..<b.rows {
        _ = plainSoftmax(b.x.baseAddress! + n * b.classes, b.classes, scale: 1, into: p)
        let y = Int(b.targets[n]), py = p[y], factor = powf(py, q) / Float(b.rows)
        total += Double((1 - powf(py, q)) / q)
        for j in 0..<b.classes { b.gradient[n * b.classes + j] = factor * (p[j] - (j == y ? 1 : 0)) }
    }
    blackHole(total)
}

private func plainDistillation(_ b: LossBenchBuffers, temperature: Float) {
    let ps = UnsafeMutablePointer<Float>.allocate(capacity: b.classes), pt = UnsafeMutablePointer<Float>.allocate(capacity: b.classes)
    defer { ps.deallocate(); pt.deallocate() }
    var total = 0.0
    for n in 0..<b.rows {
        _ = plainSoftmax(b.x.baseAddress! + n * b.classes, b.classes, scale: 1 / temperature, into: ps)
        _ = plainSoftmax(b.second.baseAddress! + n * b.classes, b.classes, scale: 1 / temperature, into: pt)
        for j in 0..<b.classes {
            total += Double(pt[j] * (logf(pt[j]) - logf(ps[j])))
            b.gradient[n * b.classes + j] = temperature * (ps[j] - pt[j]) / Float(b.rows)
        }
    }
    blackHole(total)
}

/// H̄(T): the mean over rows of the entropy of softmax(x/T), one scalar Double pass per row.
private func plainMeanEntropy(_ b: LossBenchBuffers, temperature: Double) {
    var total = 0.0
    for n in 0..<b.rows {
        let row = b.x.baseAddress! + n * b.classes
        var m = -Double.infinity
        for j in 0..<b.classes { m = max(m, Double(row[j]) / temperature) }
        var s = 0.0, weighted = 0.0
        for j in 0..<b.classes {
            let d = Double(row[j]) / temperature - m
            let e = Foundation.exp(d)
            s += e
            weighted += e * d
        }
        total += Foundation.log(s) - weighted / s
    }
    blackHole(total / Double(b.rows))
}

private func plainBinaryCrossEntropy(_ b: LossBenchBuffers) {
    var total = 0.0
    let count = b.rows * b.classes
    for i in 0..<count {
        let x = b.x[i], y = b.second[i]
        let p = 1 / (1 + expf(-x))
        total += Double(-(y * logf(p) + (1 - y) * logf(1 - p)))
        b.gradient[i] = (p - y) / Float(count)
    }
    blackHole(total)
}
