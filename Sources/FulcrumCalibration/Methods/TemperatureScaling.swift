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
/// Each evaluation at s = 1/T is one fused pass over the rows (`temperatureRowTerms`): per row
/// eⱼ = e^{s·(xⱼ − x_{yᵢ})} summed with eⱼ·dⱼ and eⱼ·dⱼ², dⱼ = xⱼ − x_{yᵢ}, which give
///
///     NLLᵢ = log Σⱼ eⱼ
///     dNLL/ds  = (1/n)·Σᵢ (E_p[xᵢ] − x_{i,yᵢ}) = (1/n)·Σᵢ E_p[dᵢ]
///     d²NLL/ds² = (1/n)·Σᵢ Var_p(xᵢ),   Var_p(xᵢ) = E_p[dᵢ²] − E_p[dᵢ]²
///
/// (moments about the target logit, which keeps the variance free of the cancellation of
/// E[x²] − E[x]²; sums in Float SIMD lanes over 512 classes, then in Double; rows in fixed
/// parallel blocks added in block order, so the fit does not depend on the thread count)
///
/// and dNLL/dt = −s·dNLL/ds, d²NLL/dt² = s²·d²NLL/ds² + s·dNLL/ds. NLL is convex in s, so
/// Newton converges in a handful of iterations from T = 1; it stops when a step changes log T by
/// less than 10⁻⁷ (the resolution of the Float sums), or at once with T = 1 when NLL does not
/// depend on T (one class, or every row's logits equal). Cost per evaluation: O(n·C) with one
/// exponential per logit, one sweep of the logits (two for a row whose target logit lies more
/// than 64·T below its maximum) and no scratch.
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
            // The sums come from Float lanes: below ~10⁻⁷ a step is rounding noise.
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

/// NLL and its first two derivatives in t = log T, from one fused pass over the rows.
struct TemperatureObjective {
    let logits: MatrixView<Float>
    let labels: UnsafeBufferPointer<Int32>

    struct Point {
        var value: Double
        var slope: Double
        var curvature: Double
    }

    /// Sums over a block of rows, or the first non-finite logit found.
    private struct BlockTerms {
        var loss = 0.0, mean = 0.0, variance = 0.0
        var firstNonFinite: (row: Int, column: Int)?
    }

    /// NLL, dNLL/dt and d²NLL/dt² at t = log T.
    ///
    /// - Throws: `nonFiniteValue` naming `logits` at the first (row, column) holding NaN or ±∞.
    func evaluate(logTemperature t: Double) throws -> Point {
        let (n, c) = (logits.rows, logits.columns)
        let s = 1 / Double.exp(t)
        let rowsPerBlock = max(1, (1 << 15) / max(1, c))
        let blocks = (n + rowsPerBlock - 1) / rowsPerBlock
        let slots = UnsafeMutableBufferPointer<BlockTerms>.allocate(capacity: blocks)
        slots.initialize(repeating: BlockTerms())
        defer { slots.deinitialize(); slots.deallocate() }
        let (logits, labels, inverse) = (self.logits, self.labels, Float(s))
        Threads.forEachBlock(count: n, blockSize: rowsPerBlock) { block, range in
            var terms = BlockTerms()
            // The rows' Σ e^{…} wait in groups of four for one vector logarithm.
            var partitions = Double.Vector(repeating: 1), waiting = 0
            for i in range {
                let row = logits.row(i)
                guard let term = temperatureRowTerms(row, classes: c, target: Int(labels[i]), inverse: inverse) else {
                    terms.firstNonFinite = (i, (0..<c).first { !row[$0].isFinite } ?? 0)
                    break
                }
                terms.loss += term.shiftedLoss
                terms.mean += term.mean
                terms.variance += term.variance
                partitions[waiting] = term.partition
                waiting += 1
                if waiting == Double.vectorWidth {
                    terms.loss += Double.sumOfLanes(Double.log(partitions))
                    (partitions, waiting) = (Double.Vector(repeating: 1), 0)
                }
            }
            terms.loss += Double.sumOfLanes(Double.log(partitions))  // log 1 = 0 in unused lanes
            slots[block] = terms
        }
        var total = BlockTerms()
        for terms in slots {
            if let bad = terms.firstNonFinite {
                throw FulcrumError.nonFiniteValue(argument: "logits", row: bad.row, column: bad.column)
            }
            total.loss += terms.loss
            total.mean += terms.mean
            total.variance += terms.variance
        }
        let count = Double(n)
        let (ds, dss) = (total.mean / count, total.variance / count)
        return Point(value: total.loss / count, slope: -s * ds, curvature: s * s * dss + s * ds)
    }
}

/// One row's terms under p = softmax(s·x) with target logit x_y: its NLL as
/// `shiftedLoss` + log `partition`, where partition = Σⱼ e^{s·(xⱼ − c)} and shiftedLoss = s·(c − x_y),
/// and E_p[x − x_y] and Var_p(x); nil when a logit is NaN or ±∞.
///
/// One sweep of the row shifted by c = x_y, known before the sweep (as the cross-entropy
/// kernel's short rows), so the exponentials need not wait for the row maximum; the sweep also
/// takes the maximum and a finiteness probe (x·0 is 0 only for finite x). When s·(max − x_y) > 64
/// (p_y < e⁻⁶⁴, where e^{s·(x − x_y)} could overflow) a second sweep shifts by the maximum.
@inline(__always)
func temperatureRowTerms(
    _ x: UnsafePointer<Float>, classes c: Int, target y: Int, inverse s: Float
) -> (shiftedLoss: Double, partition: Double, mean: Double, variance: Double)? {
    let target = x[y]
    var sweep = shiftedMoments(x, classes: c, inverse: s, shift: target, target: target)
    guard sweep.finite else { return nil }
    var shift = target
    if Double(s) * (Double(sweep.maximum) - Double(target)) > 64 {
        shift = sweep.maximum
        sweep = shiftedMoments(x, classes: c, inverse: s, shift: shift, target: target)
    }
    let mean = sweep.moments.1 / sweep.moments.0
    return (Double(s) * (Double(shift) - Double(target)), sweep.moments.0, mean, max(0, sweep.moments.2 / sweep.moments.0 - mean * mean))
}

/// Σⱼ eⱼ, Σⱼ eⱼ·dⱼ and Σⱼ eⱼ·dⱼ² with eⱼ = e^{s·(xⱼ − shift)} and dⱼ = xⱼ − target, in Float
/// vectors over 512 classes at a time added in Double; with the row maximum and whether every
/// logit is finite.
@inline(__always)
func shiftedMoments(
    _ x: UnsafePointer<Float>, classes c: Int, inverse s: Float, shift: Float, target: Float
) -> (moments: (Double, Double, Double), maximum: Float, finite: Bool) {
    let (scale, origin, center) = (Float.Vector(repeating: s), Float.Vector(repeating: shift), Float.Vector(repeating: target))
    var high = Float.Vector(repeating: -.infinity), probe = Float.Vector()
    var moments = (0.0, 0.0, 0.0)
    var start = 0
    while start < c {
        let end = min(c, start &+ 512)
        var (e0, e1, e2) = (Float.Vector(), Float.Vector(), Float.Vector())
        forEachVector(Float.self, from: start, to: end) { j, count in
            let v = x.loadVector(at: j, count: count)
            probe = Float.multiplyAdd(v, Float.Vector(), probe)
            var e = Float.exponentialOfShift(scale * (v - origin))
            if count < Float.vectorWidth {
                e = Float.keepingLanes(below: count, of: e, fill: 0)
                high = Float.maximum(high, Float.keepingLanes(below: count, of: v, fill: -.infinity))
            } else {
                high = Float.maximum(high, v)
            }
            let d = v - center, ed = e * d
            e0 += e
            e1 += ed
            e2 = Float.multiplyAdd(ed, d, e2)
        }
        moments.0 += Double(Float.sumOfLanes(e0))
        moments.1 += Double(Float.sumOfLanes(e1))
        moments.2 += Double(Float.sumOfLanes(e2))
        start = end
    }
    return (moments, Float.largestLane(high), Float.sumOfLanes(probe) == 0)
}
