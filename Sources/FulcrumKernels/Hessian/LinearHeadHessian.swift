import Synchronization

/// The Hessian of a softmax cross-entropy linear head with respect to its parameters, as a
/// matrix-free operator prepared once for fixed data and parameters.
///
/// **Model.** Logits x_n = W·f_n + b for features F (N×D, row n is f_n), weights W (C×D) and an
/// optional bias b (C); the loss is `SoftmaxCrossEntropy` with its options (class weights, label
/// smoothing, ignore index, reduction, temperature τ, class offsets, target margins). Row n's loss
/// is ℓ_n = (1 − ε)·w_y·(−log p_y) + (ε/C)·Σ_j w_j·(−log p_j) with p = softmax((x + o − Δ_y·e_y)/τ).
/// Since Σ_j of the smoothed target weights is h_n = (1 − ε)·w_{y_n} + (ε/C)·Σ_j w_j, and log p_j =
/// z_j − lse(z) is linear in z apart from lse, the Hessian of ℓ_n with respect to its logits is
///
///     ∂²ℓ_n/∂x² = (h_n/τ²)·(diag p_n − p_n·p_nᵀ)
///
/// (label smoothing leaves it unchanged only without class weights: with weights it moves h_n from
/// w_y towards their mean). Offsets and margins are constants and only enter through p.
/// With the reduction's scale s (1/Σ_{counted} w_y for `.mean`, 1 for `.sum`/`.none`) and
/// a_n = s·h_n/τ² (0 for ignored rows), the Hessian-vector product for a direction (V, v_b) is
///
///     Z = F·Vᵀ + 1·v_bᵀ                   (N×C, one GEMM)
///     R_n = a_n·(p_n ∘ z_n − p_n·(p_n·z_n)) (one fused pass over P and Z)
///     H·(V, v_b) = (Rᵀ·F, Σ_n R_n)        (one GEMM and the column sums of the pass)
///
/// **Parameter vector.** As a `LinearOperator` the parameters are flattened as vec(W) row-major
/// (C·D elements) followed by b (C elements, when the head has a bias): `dimension` = C·D (+ C).
///
/// **Cost.** Preparing copies F, computes the logits (one N×C×D GEMM) and P with the
/// cross-entropy kernel; each product then costs two N×C×D GEMMs (4·N·C·D flops) plus one pass
/// over P and Z. A batch of k directions runs its GEMMs back to back and its k row passes in one
/// sweep over P. Memory: F and P are kept (N·D + N·C elements), plus an N×k·C workspace.
///
/// **Threads and determinism.** GEMMs run on OpenBLAS with `Threads.count` threads from the
/// calling thread; the row pass uses fixed blocks and combines the bias sums in block order, so
/// for a given BLAS thread count the outputs do not depend on Fulcrum's worker count. (OpenBLAS
/// 0.3.21's own GEMMs are not bitwise reproducible between 1 and 2 BLAS threads.) The operator
/// can be shared between threads: calls serialise on its workspace.
///
/// The model of "Understanding Hessian Alignment for Domain Generalization" (the classifier
/// head), of sharpness tracking in "Outliers with Opposing Signals", and of PyHessian-style
/// analyses of a linear probe.
public final class LinearHeadHessian<T: FulcrumFloat>: LinearOperator, @unchecked Sendable {
    /// The element type.
    public typealias Scalar = T

    /// N, D, C.
    public let samples: Int, featureCount: Int, classes: Int
    /// Whether the parameter vector includes the bias.
    public let hasBias: Bool
    /// The loss definition the Hessian belongs to.
    public let loss: SoftmaxCrossEntropy<T>
    /// The loss at the prepared parameters (from the cross-entropy kernel).
    public private(set) var lossResult: CrossEntropyResult<T>
    /// C·D, plus C with a bias.
    public var dimension: Int { classes * featureCount + (hasBias ? classes : 0) }

    // The caches below are rewritten in place by `update`; products read them under `workspace`.
    @usableFromInline var featureStorage: [T]
    @usableFromInline var probabilityStorage: [T]
    @usableFromInline var targetStorage: [Int32]
    /// a_n = s·h_n/τ² per row (0 for ignored rows).
    @usableFromInline var curvatureWeights: [T]
    /// 1/τ: the extra factor of each further logit derivative.
    @usableFromInline let inverseTemperature: T
    /// s: 1/Σ w_y for `.mean`, 1 otherwise.
    @usableFromInline var reductionScale: T
    let workspace = Mutex<[T]>([])

    /// Prepares the Hessian of `loss` for the head (`weights`, `bias`) on `features` and `targets`.
    ///
    /// - Parameters:
    ///   - features: F, N×D (copied).
    ///   - weights: W, C×D.
    ///   - bias: b (C values), or nil for a head without bias (then b is not a parameter).
    ///   - targets: N class indices in 0..<C or `loss.ignoreIndex`.
    ///   - loss: the cross-entropy options; `zLossCoefficient`, `logitSoftcap` and `focalGamma` are
    ///     not supported (their Hessians are not of the form above).
    /// - Throws: `FulcrumError.emptyReduction` for N, D or C = 0 or an empty mean;
    ///   `shapeMismatch` naming `weights`, `bias` or `targets`; `nonFiniteValue` naming `features`,
    ///   `weights` or `bias`; `invalidParameter` for an unsupported or invalid loss option;
    ///   `indexOutOfRange` for a bad target.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public init(
        features: MatrixView<T>, weights: MatrixView<T>, bias: UnsafeBufferPointer<T>?,
        targets: UnsafeBufferPointer<Int32>, loss: SoftmaxCrossEntropy<T> = SoftmaxCrossEntropy()
    ) throws {
        let (n, d, c) = (features.rows, features.columns, weights.rows)
        guard n > 0, d > 0, c > 0 else {
            throw FulcrumError.emptyReduction(argument: "features", reason: "N = \(n), D = \(d), C = \(c)")
        }
        if loss.zLossCoefficient != 0 {
            throw FulcrumError.invalidParameter(argument: "loss.zLossCoefficient", value: "\(loss.zLossCoefficient)", requirement: "0 (not supported by the Hessian)")
        }
        if let cap = loss.logitSoftcap {
            throw FulcrumError.invalidParameter(argument: "loss.logitSoftcap", value: "\(cap)", requirement: "nil (not supported by the Hessian)")
        }
        if loss.focalGamma != 0 {
            throw FulcrumError.invalidParameter(argument: "loss.focalGamma", value: "\(loss.focalGamma)", requirement: "0 (not supported by the Hessian)")
        }
        (samples, featureCount, classes, hasBias) = (n, d, c, bias != nil)
        self.loss = loss
        inverseTemperature = 1 / loss.temperature
        reductionScale = 1
        lossResult = CrossEntropyResult(loss: 0, zLoss: 0, correctCount: 0, countedRows: 0, weightSum: 0)
        featureStorage = [T](repeating: 0, count: n * d)
        probabilityStorage = [T](repeating: 0, count: n * c)
        targetStorage = [Int32](repeating: 0, count: n)
        curvatureWeights = [T](repeating: 0, count: n)
        try update(features: features, weights: weights, bias: bias, targets: targets)
    }

    /// Re-prepares the operator at new data and parameters of the **same shapes**, reusing its
    /// memory: the form to call every step of a training loop (fresh memory costs page faults of
    /// the order of a GEMM pass at large N·C).
    ///
    /// Cost: one N×C×D GEMM and one cross-entropy pass. Must not run concurrently with other calls
    /// on the same operator.
    /// - Throws: as `init`; `shapeMismatch` when a shape or the presence of the bias differs from
    ///   the operator's. On a throw the operator is left unchanged unless the cross-entropy
    ///   kernel itself failed.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func update(
        features: MatrixView<T>, weights: MatrixView<T>, bias: UnsafeBufferPointer<T>?, targets: UnsafeBufferPointer<Int32>
    ) throws {
        let (n, d, c) = (samples, featureCount, classes)
        try checkShape(features, rows: n, columns: d, argument: "features")
        try checkShape(weights, rows: c, columns: d, argument: "weights")
        guard (bias != nil) == hasBias else {
            throw FulcrumError.shapeMismatch(argument: "bias", expected: hasBias ? "\(c)" : "nil", actual: bias.map { "\($0.count)" } ?? "nil")
        }
        if let bias { try checkCount(bias.count, c, argument: "bias") }
        try checkCount(targets.count, n, argument: "targets")
        try requireFinite(features, argument: "features")
        try requireFinite(weights, argument: "weights")
        if let bias, let j = bias.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.nonFiniteValue(argument: "bias", row: j, column: 0)
        }
        let totals = try loss.validateTargets(targets, classes: c, excludedClasses: nil)
        let scale = try loss.reductionScale(totals)
        // Without class offsets of its own, the bias is written into the logits (rows of b, then
        // the GEMM adds F·Wᵀ), which keeps the kernel on its fastest path; otherwise it joins the
        // offsets: p = softmax((F·Wᵀ + b + o − Δ)/τ).
        var withBias = loss
        let biasInLogits = bias != nil && loss.classOffsets == nil
        if let bias, !biasInLogits {
            withBias.classOffsets = (0..<c).map { bias[$0] + (loss.classOffsets?[$0] ?? 0) }
        }
        try withWorkspace(count: n * c) { z in
            let zv = MutableMatrixView(unchecked: z, rows: n, columns: c, rowStride: c)
            try featureStorage.withUnsafeMutableBufferPointer { f in
                let fv = MutableMatrixView(unchecked: f.baseAddress, rows: n, columns: d, rowStride: d)
                Threads.forEachBlock(count: n, blockSize: 256) { _, rows in
                    for i in rows {
                        fv.row(i).update(from: features.row(i), count: d)
                        if biasInLogits, let b = bias?.baseAddress { zv.row(i).update(from: b, count: c) }
                    }
                }
                try BLAS.gemm(MatrixView(fv), weights, transposeB: true, into: zv, beta: biasInLogits ? 1 : 0)
            }
            lossResult = try probabilityStorage.withUnsafeMutableBufferPointer { p in
                try withBias.loss(logits: MatrixView(zv), targets: targets,
                                  probabilities: MutableMatrixView(unchecked: p.baseAddress, rows: n, columns: c, rowStride: c))
            }
        }
        // h_n = (1 − ε)·w_y + (ε/C)·Σ_j w_j; a_n = s·h_n/τ².
        let eps = Double(loss.labelSmoothing)
        let weightTotal = loss.classWeights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(c)
        let tau = Double(loss.temperature)
        for (i, t) in targets.enumerated() {
            targetStorage[i] = t
            guard t != loss.ignoreIndex else { curvatureWeights[i] = 0; continue }
            let wy = Double(loss.classWeights?[Int(t)] ?? 1)
            curvatureWeights[i] = T(scale * ((1 - eps) * wy + eps / Double(c) * weightTotal) / (tau * tau))
        }
        reductionScale = T(scale)
    }

    /// y ← H·x for one flattened direction (see the type's documentation for the layout).
    ///
    /// - Throws: `FulcrumError.shapeMismatch` for a wrong length; `nonFiniteValue(argument: "x")`
    ///   for a NaN or infinity in the direction.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func apply(_ x: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) throws {
        try checkCount(x.count, dimension, argument: "x")
        try checkCount(y.count, dimension, argument: "y")
        try apply(MatrixView(unchecked: x.baseAddress, rows: 1, columns: dimension, rowStride: dimension),
                  into: MutableMatrixView(unchecked: y.baseAddress, rows: 1, columns: dimension, rowStride: dimension))
    }

    /// Yᵢ ← H·Xᵢ for every row of `x` (k × dimension): the k forward GEMMs, one row pass for all
    /// directions, the k backward GEMMs.
    ///
    /// - Throws: `FulcrumError.shapeMismatch`; `nonFiniteValue(argument: "x", row: i, column: j)`.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func apply(_ x: MatrixView<T>, into y: MutableMatrixView<T>) throws {
        try checkBatch(x, y, dimension: dimension)
        try requireFinite(x, argument: "x")
        let k = x.rows
        guard k > 0 else { return }
        let width = k * classes
        try withWorkspace(count: samples * width + partialCount(width: width)) { z in
            let blocks = DirectionBlocks(base: z, samples: samples, classes: classes)
            try forward(x, into: blocks)
            let biasSums = hessianRows(blocks, directions: x, partials: z + samples * width)
            try backward(blocks, biasSums: biasSums, into: y)
        }
    }
}

/// Throws `nonFiniteValue` at the first NaN or infinity of `m` (lowest row, then column).
///
/// Rows are screened in parallel fixed blocks with SIMD (x·0 is NaN exactly when x is not
/// finite, and a NaN survives the sum); only a flagged row is scanned element by element.
func requireFinite<T: FulcrumFloat>(_ m: MatrixView<T>, argument: String) throws {
    let blockRows = 64
    let blocks = (m.rows + blockRows - 1) / blockRows
    var firstBad = [Int](repeating: Int.max, count: blocks)
    firstBad.withUnsafeMutableBufferPointer { slots in
        let out = UncheckedSendable(slots.baseAddress!)
        Threads.forEachBlock(count: m.rows, blockSize: blockRows) { b, rows in
            let w = T.vectorWidth
            let full = m.columns - m.columns % w
            for i in rows {
                let r = m.row(i)
                var acc = T.Vector()
                var j = 0
                while j < full { acc += r.loadVector(at: j) * 0; j += w }
                var tail = T(0)
                while j < m.columns { tail += r[j] * 0; j += 1 }
                if (T.sumOfLanes(acc) + tail).isNaN { out.value[b] = i; return }
            }
        }
    }
    guard let i = firstBad.first(where: { $0 != Int.max }) else { return }
    let r = m.row(i)
    for j in 0..<m.columns where !r[j].isFinite {
        throw FulcrumError.nonFiniteValue(argument: argument, row: i, column: j)
    }
}
