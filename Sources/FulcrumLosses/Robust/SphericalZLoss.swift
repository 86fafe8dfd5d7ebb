import FulcrumKernels

/// The Z-loss of "The Z-loss: a shift and scale invariant classification loss belonging to the
/// Spherical Family" (de Brébisson, Vincent): the target's standardised output through a
/// softplus,
///
///     μ = (1/C)·Σ_j o_j,   σ = √((1/C)·Σ_j (o_j − μ)²),   z_j = (o_j − μ)/σ
///     ℓ = softplus(a·(b − z_y))/a
///     ∂ℓ/∂o_j = −(r/σ)·(δ_jy − 1/C − z_y·z_j/C),   r = σ_logistic(a·(b − z_y))
///
/// (the exact gradient through the standardisation; σ is the population standard deviation).
/// ℓ is invariant to o → α·o + β for α > 0 (the gradient scales by 1/α). A constant row (σ = 0,
/// including C = 1) has z = 0: ℓ = softplus(a·b)/a and a zero gradient.
///
/// **Cost.** Two sweeps of a row: its moments (each 512-element chunk read twice while in L1,
/// chunks merged in Double) and the write; one read of the outputs from memory and one write of
/// the gradient, no exponential per element: O(N·C). Logits too large for T's sums (|o| beyond
/// about 10¹⁹ in Float) are standardised scaled by a power of two, so the loss stays invariant
/// to the scale. **Non-finite** outputs throw `nonFiniteValue` naming `logits`.
/// **Determinism:** bitwise identical for any `Threads.count`. `.mean` divides by counted rows.
public struct SphericalZLoss<T: FulcrumFloat>: Sendable {
    /// a > 0: the softplus sharpness.
    public var a: T
    /// b: the target's standardised-score offset (finite).
    public var b: T
    /// Rows whose target equals this are ignored (zero gradient).
    public var ignoreIndex: Int32
    /// How per-row losses are combined (`.mean` divides by the counted rows).
    public var reduction: Reduction

    /// A Z-loss with sharpness a and offset b; validated when called.
    public init(a: T, b: T, ignoreIndex: Int32 = -100, reduction: Reduction = .mean) {
        self.a = a
        self.b = b
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    /// The loss and dL/dlogits into `gradient` (N×C, may be the logits' memory).
    /// - Throws: `FulcrumError` naming `a` (finite, > 0), `b` (finite), `targets`, `gradient`,
    ///   or the first non-finite `logits` element; `emptyReduction` for a mean over no rows;
    ///   `a, b` when the loss overflows T.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, gradient: MutableMatrixView<T>) throws -> T {
        try checkShape(MatrixView(gradient), rows: logits.rows, columns: logits.columns, argument: "gradient")
        return try evaluate(logits, targets, gradient)
    }

    /// The loss without a gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func loss(logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>) throws -> T {
        try evaluate(logits, targets, nil)
    }

    func evaluate(_ logits: MatrixView<T>, _ targets: UnsafeBufferPointer<Int32>, _ gradient: MutableMatrixView<T>?) throws -> T {
        let (rows, classes) = (logits.rows, logits.columns)
        guard a.isFinite, a > 0 else { throw FulcrumError.invalidParameter(argument: "a", value: "\(a)", requirement: "finite and > 0") }
        guard b.isFinite else { throw FulcrumError.invalidParameter(argument: "b", value: "\(b)", requirement: "finite") }
        try checkCount(targets.count, rows, argument: "targets")
        var counted = 0
        for (n, t) in targets.enumerated() where t != ignoreIndex {
            guard t >= 0, Int(t) < classes else {
                throw FulcrumError.indexOutOfRange(argument: "targets", position: n, value: Int(t), validRange: "0..<\(classes)")
            }
            counted += 1
        }
        if reduction == .mean && counted == 0 {
            throw FulcrumError.emptyReduction(argument: "targets", reason: "a mean over no rows (empty batch or every row ignored)")
        }
        let scale = reduction == .mean ? 1 / Double(counted) : 1
        let (ignore, a, b) = (ignoreIndex, Double(self.a), Double(self.b))
        let sums = blockSums(rows: rows, classes: classes) { range in
            var total = LossSums()
            for n in range {
                guard targets[n] != ignore else {
                    gradient?.row(n).update(repeating: 0, count: classes)
                    continue
                }
                guard let loss = zLossRow(logits.row(n), target: Int(targets[n]), classes: classes, a: a, b: b,
                                          gradientScale: scale, gradient: gradient?.row(n)) else {
                    total.firstNonFinite = total.firstNonFinite ?? n
                    continue
                }
                total.loss += loss
            }
            return total
        }
        if let n = sums.firstNonFinite {
            let j = (0..<classes).first { !logits[n, $0].isFinite } ?? 0
            throw FulcrumError.nonFiniteValue(argument: "logits", row: n, column: j)
        }
        return try representableLoss(sums.loss * scale, as: T.self, parameters: "a, b")
    }
}

/// One Z-loss row: the loss, the gradient written when asked; nil for a non-finite output.
///
/// The row's moments come from one sweep (`scaledMoments`). A finite row whose sums overflow T
/// (|o| beyond about 10¹⁹ in Float) is standardised again scaled by a power of two: the loss is
/// invariant to the scale, and z_j is formed in the scaled units.
@inline(__always)
func zLossRow<T: FulcrumFloat>(_ o: UnsafePointer<T>, target y: Int, classes: Int, a: Double, b: Double,
                               gradientScale: Double, gradient: UnsafeMutablePointer<T>?) -> Double? {
    var scale: T = 1
    var moments = scaledMoments(o, classes: classes, scale: scale)
    if !(moments.mean.isFinite && moments.sigma.isFinite) {
        var largest: T = 0
        for j in 0..<classes {
            guard o[j].isFinite else { return nil }
            largest = max(largest, abs(o[j]))
        }
        scale = T(sign: .plus, exponent: -largest.exponent, significand: 1)
        moments = scaledMoments(o, classes: classes, scale: scale)
    }
    let (mean, sigma) = moments
    let zy = sigma > 0 ? (Double(o[y] * scale) - mean) / sigma : 0
    let u = a * (b - zy)
    let loss = (max(u, 0) + Double.log1p(Double.exp(-abs(u)))) / a
    guard let gradient else { return loss }
    guard sigma > 0 else {
        gradient.update(repeating: 0, count: classes)
        return loss
    }
    let r = u >= 0 ? 1 / (1 + Double.exp(-u)) : Double.exp(u) / (1 + Double.exp(u))
    // g_j = (r/σ)·(1/C + z_y·z_j/C) with z_j = (o_j − μ)/σ, then −r/σ at the target. z_j is formed
    // first: a nearly constant row's 1/σ² overflows T where its gradient (∝ 1/σ) does not. (σ² is
    // a sum of squares in T, so σ stays above about 10⁻²³ in Float and r/σ fits.) In scaled
    // units σ_o = σ/scale, so r/σ_o = scale·r/σ.
    let count = Double(classes)
    let k = gradientScale * Double(scale) * r / sigma
    let vectorScale = T.Vector(repeating: scale), negativeMean = T.Vector(repeating: T(-mean)), inverse = T.Vector(repeating: T(1 / sigma))
    let offset = T.Vector(repeating: T(k / count)), slope = T.Vector(repeating: T(k * zy / count))
    forEachVector(T.self, from: 0, to: classes) { j, n in
        gradient.prefetchForWriting(at: j &+ 1024)  // more stores in flight than the misses alone would start
        let z = T.multiplyAdd(o.loadVector(at: j, count: n), vectorScale, negativeMean) * inverse
        gradient.storeVector(T.multiplyAdd(z, slope, offset), at: j, count: n)
    }
    gradient[y] = T(Double(gradient[y]) - k)
    return loss
}

/// The mean μ and population standard deviation σ of the row `scale·o[0 ..< classes]` in one
/// sweep: each 512-element chunk's sum, then its squared deviations about its own mean while the
/// chunk is still in L1, both in T vectors; chunks merged in Double by the pairwise update of
/// Chan, Golub and LeVeque, so no global mean has to be known before the squares. O(C); a
/// non-finite element, or sums past T's range, give a non-finite result.
@inline(__always)
func scaledMoments<T: FulcrumFloat>(_ o: UnsafePointer<T>, classes: Int, scale: T) -> (mean: Double, sigma: Double) {
    let vectorScale = T.Vector(repeating: scale)
    var counted = 0.0, mean = 0.0, squares = 0.0
    var start = 0
    while start < classes {
        let end = min(classes, start &+ 512)
        var partial = T.Vector()
        forEachVector(T.self, from: start, to: end) { j, n in partial += o.loadVector(at: j, count: n) * vectorScale }
        let size = Double(end &- start)
        let chunkMean = Double(T.sumOfLanes(partial)) / size
        // Deviations about the chunk mean rounded to T, c: Σ(x − c)² − size·(m − c)² is the
        // chunk's Σ(x − m)².
        let center = T(chunkMean)
        let negativeCenter = T.Vector(repeating: -center)
        var deviations = T.Vector()
        forEachVector(T.self, from: start, to: end) { j, n in
            o.prefetch(at: j &+ 1024)  // the read from memory goes on while the chunk is in L1
            let d = T.multiplyAdd(o.loadVector(at: j, count: n), vectorScale, negativeCenter)
            deviations += n == T.vectorWidth ? d * d : T.keepingLanes(below: n, of: d * d, fill: 0)
        }
        let offCenter = chunkMean - Double(center)
        let chunkSquares = max(0, Double(T.sumOfLanes(deviations)) - size * offCenter * offCenter)
        let total = counted + size, delta = chunkMean - mean
        mean += delta * size / total
        squares += chunkSquares + delta * delta * counted * size / total
        counted = total
        start = end
    }
    return (mean, (squares / counted).squareRoot())
}
