/// Fused softmax cross-entropy: the loss and its gradient with respect to the logits in one call,
/// with the options of PyTorch's `cross_entropy` and the logit adjustments of the seed papers.
///
/// For a row with logits x (C classes) and target y, the softmax sees the scores
///
///     z_j = (cap(x_j) + o_j − Δ_y·[j = y]) / T,   cap(x) = c·tanh(x/c)  (identity without a softcap)
///
/// with per-class offsets o (logit adjustment τ·log π_j), a target margin Δ (LDAM's
/// Δ_c = K/n_c^{1/4}, "TransICD"), temperature T, and z_j = −∞ for classes the row's mask
/// excludes. With p = softmax(z), class weights w, label smoothing ε over the K included classes,
/// W = Σ_{included j} w_j, focal exponent γ and z-loss coefficient s, the row's loss is
///
///     CE = (1 − ε)·w_y·(−log p_y) + (ε/K)·Σ_j w_j·(−log p_j)      (PyTorch's weighted smoothing)
///     ℓ  = (1 − p_y)^γ · CE + s·w_y·lse(z)²
///
/// More generally ℓ = f(CE, log p_y) + s·w_y·lse(z)² for a `rowModulation` f (see
/// `CrossEntropyRowModulation`: generalized cross-entropy, MAE, comp-sum losses, per-row scales);
/// the focal factor is the built-in instance. The focal factor is "Focal Loss" modulation with α = the class weights, as used in "Melanoma
/// Detection using Adversarial Training and Deep Transfer Learning"; the z-loss is that of
/// "Small-scale proxies for large-scale Transformer training instabilities", weighted by the
/// row's class weight like the CE term (so that `.mean` divides both by the same weight sum).
/// Rows whose target is `ignoreIndex` contribute nothing and get a zero gradient. `.mean` divides
/// by Σ w_y over the other rows, as PyTorch does.
///
/// The gradient is exact for every option (the chain rule goes through the softcap, the
/// temperature and the focal factor); it is written into a separate buffer or over the logits.
///
/// **Cost.** One read of the logits from memory and one write of the gradient; the row is then
/// re-read from cache (a max pass, an exponential pass that stores e^{z−m}, a scaling pass). No
/// probability tensor is allocated. O(N·C) time, O(N/rows-per-block) extra memory.
///
/// **Accuracy.** Sums of exponentials are accumulated per 512-element chunk and combined in Double;
/// −log p_y is computed as log1p(Σ_{j≠y} e_j / e_y), so small losses keep their relative accuracy.
/// The Float loss is within 1e-5 relative of a Double reference in the tests, the gradient within
/// 1e-6·max|gradient|.
///
/// **Non-finite logits** (in a row that is not ignored and a class that is not excluded) follow
/// `nonFinitePolicy`. **Determinism:** rows are processed in fixed blocks whose partial sums are
/// combined in order, so the outputs are bitwise identical for any `Threads.count`.
///
/// ```swift
/// let ce = SoftmaxCrossEntropy<Float>(labelSmoothing: 0.1)
/// let result = try ce.lossAndGradient(inPlace: logits, targets: targets)  // logits now hold dL/dx
/// ```
public struct SoftmaxCrossEntropy<T: FulcrumFloat>: Sendable {
    /// Per-class weights w (C values, finite, ≥ 0), PyTorch's `weight`; nil for all ones. They are
    /// also the focal α.
    public var classWeights: [T]?
    /// ε in [0, 1): the target distribution is (1 − ε)·onehot + ε/K (PyTorch's `label_smoothing`).
    public var labelSmoothing: T
    /// Rows whose target equals this are ignored (PyTorch's `ignore_index`, default −100).
    public var ignoreIndex: Int32
    /// How per-row losses are combined.
    public var reduction: Reduction
    /// s ≥ 0: adds s·w_y·lse² per row.
    public var zLossCoefficient: T
    /// c > 0: the logits are soft-capped to c·tanh(x/c) before everything else; nil for none.
    public var logitSoftcap: T?
    /// T > 0: the scores are divided by T (after the softcap and offsets).
    public var temperature: T
    /// Per-class offsets o (C finite values) added to every row's (capped) logits before the
    /// temperature; nil for none.
    public var classOffsets: [T]?
    /// Per-class margins Δ (C finite values): Δ_y is subtracted from the target's logit only,
    /// before the temperature; nil for none.
    public var targetMargins: [T]?
    /// γ ≥ 0: focal modulation (1 − p_y)^γ of the CE term; 0 for plain cross-entropy.
    public var focalGamma: T
    /// What a NaN or ±∞ logit does.
    public var nonFinitePolicy: NonFinitePolicy
    /// A per-row modulation ℓ = f(CE, log p_y) that replaces the focal factor (then `focalGamma`
    /// must be 0); nil for none. Called once per counted row, from worker threads.
    public var rowModulation: (any CrossEntropyRowModulation)?

    /// A cross-entropy with the given options; the defaults are PyTorch's `cross_entropy`.
    public init(
        classWeights: [T]? = nil, labelSmoothing: T = 0, ignoreIndex: Int32 = -100,
        reduction: Reduction = .mean, zLossCoefficient: T = 0, logitSoftcap: T? = nil,
        temperature: T = 1, classOffsets: [T]? = nil, targetMargins: [T]? = nil,
        focalGamma: T = 0, nonFinitePolicy: NonFinitePolicy = .throwError,
        rowModulation: (any CrossEntropyRowModulation)? = nil
    ) {
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
        self.zLossCoefficient = zLossCoefficient
        self.logitSoftcap = logitSoftcap
        self.temperature = temperature
        self.classOffsets = classOffsets
        self.targetMargins = targetMargins
        self.focalGamma = focalGamma
        self.nonFinitePolicy = nonFinitePolicy
        self.rowModulation = rowModulation
    }

    /// The loss, and dL/dlogits written into `gradient`.
    ///
    /// - Parameters:
    ///   - logits: N×C, any row stride; read only.
    ///   - targets: N class indices in `0..<C`, or `ignoreIndex`.
    ///   - gradient: N×C output (any row stride); every element of every row is written
    ///     (zeros for ignored rows). It may be the logits' own memory only through
    ///     `lossAndGradient(inPlace:…)`.
    ///   - excludedClasses: optional N×C mask, nonzero where a class is excluded from that row's
    ///     softmax (its probability and gradient are 0). A row may not exclude its own target.
    ///   - gradientScale: the upstream gradient dL_total/dL (1 for a loss you minimise directly).
    ///   - rowLosses: optional N outputs, each row's ℓ before reduction (0 for ignored rows).
    ///   - rowLogSumExp: optional N outputs, lse(z) of each row (0 for ignored rows).
    /// - Returns: the reduced loss, the z-loss part, the correct-prediction count.
    /// - Throws: `FulcrumError` naming the argument for any bad shape, target, mask or option,
    ///   before any output is written; `nonFiniteValue` per `nonFinitePolicy`; under `.throwError`,
    ///   `invalidParameter` naming the scaling options (or `logits`) when the loss overflows T.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, gradient: MutableMatrixView<T>,
        excludedClasses: MatrixView<UInt8>? = nil, gradientScale: T = 1,
        rowLosses: UnsafeMutableBufferPointer<T>? = nil, rowLogSumExp: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        try checkShape(MatrixView(gradient), rows: logits.rows, columns: logits.columns, argument: "gradient")
        return try evaluate(logits: logits, targets: targets, output: gradient, destination: .gradient,
                            excludedClasses: excludedClasses, gradientScale: gradientScale,
                            rowLosses: rowLosses, rowLogSumExp: rowLogSumExp)
    }

    /// The loss, with dL/dlogits written over the logits (the fastest form: the logits are read
    /// once and the gradient written once, with no second buffer).
    ///
    /// Arguments as in `lossAndGradient(logits:targets:gradient:…)`. When it throws a validation
    /// error the buffer is untouched; when it throws `nonFiniteValue` each row holds either its
    /// logits or its gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        inPlace logits: MutableMatrixView<T>, targets: UnsafeBufferPointer<Int32>,
        excludedClasses: MatrixView<UInt8>? = nil, gradientScale: T = 1,
        rowLosses: UnsafeMutableBufferPointer<T>? = nil, rowLogSumExp: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        try evaluate(logits: MatrixView(logits), targets: targets, output: logits, destination: .gradient,
                     excludedClasses: excludedClasses, gradientScale: gradientScale,
                     rowLosses: rowLosses, rowLogSumExp: rowLogSumExp)
    }

    /// The loss without a gradient (evaluation), optionally with the softmax probabilities.
    ///
    /// `probabilities` (N×C, optional) receives p = softmax(z) for every row, ignored rows
    /// included (their loss is 0); excluded classes get 0. Other arguments as in
    /// `lossAndGradient(logits:targets:gradient:…)`; `rowLogSumExp` is written for every row here.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func loss(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>,
        excludedClasses: MatrixView<UInt8>? = nil, probabilities: MutableMatrixView<T>? = nil,
        rowLosses: UnsafeMutableBufferPointer<T>? = nil, rowLogSumExp: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        if let probabilities {
            try checkShape(MatrixView(probabilities), rows: logits.rows, columns: logits.columns, argument: "probabilities")
        }
        return try evaluate(logits: logits, targets: targets, output: probabilities,
                            destination: probabilities == nil ? .nothing : .probabilities,
                            excludedClasses: excludedClasses, gradientScale: 1,
                            rowLosses: rowLosses, rowLogSumExp: rowLogSumExp)
    }

    /// Validation, then every row, then the reduction.
    func evaluate(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, output: MutableMatrixView<T>?,
        destination: RowDestination, excludedClasses: MatrixView<UInt8>?, gradientScale: T,
        rowLosses: UnsafeMutableBufferPointer<T>?, rowLogSumExp: UnsafeMutableBufferPointer<T>?
    ) throws -> CrossEntropyResult<T> {
        try checkCount(targets.count, logits.rows, argument: "targets")
        if let rowLosses { try checkCount(rowLosses.count, logits.rows, argument: "rowLosses") }
        if let rowLogSumExp { try checkCount(rowLogSumExp.count, logits.rows, argument: "rowLogSumExp") }
        let totals = try validateTargets(targets, classes: logits.columns, excludedClasses: excludedClasses)
        let scale = try reductionScale(totals)
        guard gradientScale.isFinite else {
            throw FulcrumError.invalidParameter(argument: "gradientScale", value: "\(gradientScale)", requirement: "finite")
        }
        let sums = withPlan(classes: logits.columns, gradientScale: Double(gradientScale) * scale,
                            hasExclusions: excludedClasses != nil, wantsLogSumExp: rowLogSumExp != nil) { plan, offsets, margins in
            processRows(logits: logits, targets: targets.baseAddress, output: output, destination: destination,
                        excludedClasses: excludedClasses, plan: plan, offsets: offsets, margins: margins,
                        rowLosses: rowLosses?.baseAddress, rowLogSumExp: rowLogSumExp?.baseAddress)
        }
        return try result(sums, totals: totals, scale: scale)
    }
}
