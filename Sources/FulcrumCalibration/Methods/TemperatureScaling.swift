import FulcrumKernels

/// Temperature scaling ("On Calibration of Modern Neural Networks"): one T > 0 that minimises
/// the validation negative log-likelihood of softmax(x/T),
///
///     NLL(T) = (1/n)·Σᵢ [lse(xᵢ/T) − x_{i,yᵢ}/T].
///
/// "On the Limitations of Temperature Scaling for Distributions with Overlaps" shows where this
/// cannot calibrate (then see `Mixup`); it remains the standard post-hoc baseline.
///
/// **Fit.** Newton's method on t = log T (so T stays positive) with a backtracking line search.
/// Each iteration scales the logits by s = 1/T into a scratch buffer and calls the fused
/// `SoftmaxCrossEntropy` kernel on it in place; its gradient gᵢⱼ = (pᵢⱼ − [j = yᵢ])/n gives, in
/// one more pass over the rows (Double sums, fixed blocks):
///
///     dNLL/ds  = (1/n)·Σᵢ (E_p[xᵢ] − x_{i,yᵢ})        = Σᵢⱼ gᵢⱼ·(xᵢⱼ − x_{i,yᵢ})
///     d²NLL/ds² = (1/n)·Σᵢ Var_p(xᵢ),   Var_p(xᵢ) = n·Σⱼ gᵢⱼ·(xᵢⱼ − x_{i,yᵢ})² − (E_p[xᵢ] − x_{i,yᵢ})²
///
/// (moments about the target logit, which keeps the variance free of the cancellation of
/// E[x²] − E[x]²; per-row sums in Float SIMD lanes, rows summed in Double)
///
/// and dNLL/dt = −s·dNLL/ds, d²NLL/dt² = s²·d²NLL/ds² + s·dNLL/ds. NLL is convex in s, so
/// Newton converges in a handful of iterations from T = 1; it stops when a step changes log T by
/// less than 10⁻⁷ (the resolution of the Float kernel's loss and gradient), or at once with T = 1
/// when NLL does not depend on T (one class, or every row's logits equal). Cost per iteration:
/// O(n·C): two reads of the logits and one n×C Float scratch written twice and read twice.
public struct TemperatureScaling: Sendable {
    /// The fitted temperature T.
    public let temperature: Double
    /// NLL at the fitted temperature (the kernel's Float loss).
    public let negativeLogLikelihood: Double
    /// Newton iterations used.
    public let iterations: Int

    /// Fits T on validation `logits` (n×C) and `labels` (n, in `0..<C`).
    ///
    /// - Throws: `shapeMismatch` naming `labels`; `indexOutOfRange` naming `labels` (targets);
    ///   `nonFiniteValue` naming `logits`; `emptyReduction` for n = 0; `invalidParameter` naming
    ///   `maxIterations` < 1.
    public init(logits: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, maxIterations: Int = 50) throws {
        guard maxIterations >= 1 else {
            throw FulcrumError.invalidParameter(argument: "maxIterations", value: "\(maxIterations)", requirement: ">= 1")
        }
        try checkLength(labels.count, logits.rows, argument: "labels")
        guard logits.rows > 0 else { throw FulcrumError.emptyReduction(argument: "logits", reason: "no sample") }
        try checkLabels(labels, classCount: logits.columns)
        let objective = TemperatureObjective(logits: logits, labels: labels)
        var t = 0.0
        var current = try objective.evaluate(logTemperature: t)
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            // A flat objective (one class, or every row's logits equal) has no minimiser to move to.
            guard current.slope != 0 else { break }
            var step = current.curvature > 0 ? -current.slope / current.curvature : -current.slope.sign.doubleSign
            step = max(-2, min(2, step))  // at most a factor e² per iteration
            var trial = try objective.evaluate(logTemperature: t + step)
            var halvings = 0
            while !(trial.value <= current.value + 1e-7 * abs(current.value)) && halvings < 40 {
                step /= 2
                halvings += 1
                trial = try objective.evaluate(logTemperature: t + step)
            }
            t += step
            current = trial
            // The loss and gradient come from Float: below ~10⁻⁷ a step is rounding noise.
            if abs(step) < 1e-7 { break }
        }
        temperature = Double.exp(t)
        negativeLogLikelihood = current.value
        self.iterations = iterations
    }

    /// Writes softmax(logits/T) into `probabilities` (n×C) with the fused kernel.
    ///
    /// - Throws: `shapeMismatch` naming `probabilities`; `nonFiniteValue` naming `logits`.
    public func probabilities(logits: MatrixView<Float>, into probabilities: MutableMatrixView<Float>) throws {
        try calibratedProbabilities(logits: logits, temperature: Float(temperature), into: probabilities)
    }
}

private extension FloatingPointSign {
    var doubleSign: Double { self == .minus ? -1 : 1 }
}

/// softmax(logits/T) by the kernel's evaluation path (every row, no target needed).
func calibratedProbabilities(logits: MatrixView<Float>, temperature: Float, into probabilities: MutableMatrixView<Float>) throws {
    guard probabilities.rows == logits.rows, probabilities.columns == logits.columns else {
        throw FulcrumError.shapeMismatch(argument: "probabilities", expected: "\(logits.rows)x\(logits.columns)", actual: probabilities.shape)
    }
    let kernel = SoftmaxCrossEntropy<Float>(reduction: .sum, temperature: temperature)
    let ignored = [Int32](repeating: kernel.ignoreIndex, count: logits.rows)
    _ = try ignored.withUnsafeBufferPointer { try kernel.loss(logits: logits, targets: $0, probabilities: probabilities) }
}

/// NLL and its first two derivatives in t = log T, from one kernel call and one row pass.
struct TemperatureObjective {
    let logits: MatrixView<Float>
    let labels: UnsafeBufferPointer<Int32>
    let gradient: LargeBuffer<Float>

    init(logits: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>) {
        self.logits = logits
        self.labels = labels
        gradient = LargeBuffer<Float>(count: logits.rows * logits.columns)
    }

    struct Point {
        var value: Double
        var slope: Double
        var curvature: Double
    }

    func evaluate(logTemperature t: Double) throws -> Point {
        let (n, c) = (logits.rows, logits.columns)
        let temperature = Double.exp(t)
        let s = 1 / temperature
        // z = x/T in the scratch, then the kernel at T = 1 writes G = dNLL/dz over it (its plain
        // row path, about twice as fast as its temperature path).
        let g = MutableMatrixView(unchecked: gradient.pointer, rows: n, columns: c, rowStride: c)
        let rowsPerBlock = max(1, (1 << 15) / max(1, c))
        let scale = Float(s)
        Threads.forEachBlock(count: n, blockSize: rowsPerBlock) { _, range in
            for i in range {
                let (x, z) = (logits.row(i), g.row(i))
                for j in 0..<c { z[j] = x[j] * scale }
            }
        }
        let result = try SoftmaxCrossEntropy<Float>().lossAndGradient(inPlace: g, targets: labels)
        let blocks = (n + rowsPerBlock - 1) / rowsPerBlock
        var partial = [(Double, Double)](repeating: (0, 0), count: blocks)
        let count = Double(n)
        partial.withUnsafeMutableBufferPointer { partial in
            Threads.forEachBlock(count: n, blockSize: rowsPerBlock) { block, range in
                var (first, variance) = (0.0, 0.0)
                for i in range {
                    let (a, c2) = shiftedMoments(logits.row(i), g.row(i), count: c, target: logits.row(i)[Int(labels[i])])
                    first += a
                    variance += max(0, count * c2 - (count * a) * (count * a))
                }
                partial[block] = (first, variance)
            }
        }
        let (ds, sumVariance) = partial.reduce((0.0, 0.0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        let dss = sumVariance / count
        return Point(value: Double(result.loss), slope: -s * ds, curvature: s * s * dss + s * ds)
    }
}

/// Σⱼ gⱼ·(xⱼ − t) and Σⱼ gⱼ·(xⱼ − t)² of one row, eight lanes at a time.
@inline(__always)
func shiftedMoments(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, count: Int, target t: Float) -> (Double, Double) {
    var (a, b) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: 0))
    let shift = SIMD8<Float>(repeating: t)
    var j = 0
    while j + 8 <= count {
        let d = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) - shift
        let gd = UnsafeRawPointer(g + j).loadUnaligned(as: SIMD8<Float>.self) * d
        a += gd
        b += gd * d
        j += 8
    }
    var (first, second) = (Double(Float.sumOfLanes(a)), Double(Float.sumOfLanes(b)))
    while j < count {
        let d = Double(x[j] - t), gd = Double(g[j]) * d
        first += gd
        second += gd * d
        j += 1
    }
    return (first, second)
}
