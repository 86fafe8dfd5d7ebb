import FulcrumKernels

/// Fused sigmoid binary cross-entropy with logits (PyTorch's `binary_cross_entropy_with_logits`)
/// and its focal variant, for binary and multi-label classification: one pass that reads the
/// logits and targets once and writes the gradient once.
///
/// For logit x, target y ∈ [0, 1] (soft labels allowed) of column c, p = σ(x), positive weight
/// π_c (`positiveWeights`, PyTorch's `pos_weight`) and class weight w_c (PyTorch's `weight`):
///
///     ce = −[π_c·y·log p + (1 − y)·log(1 − p)] = π_c·y·softplus(−x) + (1 − y)·softplus(x)
///     ℓ  = w_c·α_t·(1 − p_t)^γ·ce,   1 − p_t = p·(1 − y) + (1 − p)·y,   α_t = α·y + (1 − α)·(1 − y)
///     ∂ℓ/∂x = w_c·α_t·[(1 − p_t)^γ·((1 − y)·p − π_c·y·(1 − p)) + γ·(1 − p_t)^{γ−1}·(1 − 2y)·p·(1 − p)·ce]
///
/// γ = 0 and no α is the plain loss; γ > 0 is the sigmoid focal loss of "Focal Loss for Dense
/// Object Detection" (torchvision's `sigmoid_focal_loss`, with `focalAlpha` its α; nil is its
/// α = −1), the base of the multi-label losses. `.mean` divides by N·C, as PyTorch does.
///
/// **Accuracy.** softplus(±x) = max(±x, 0) + log1p(e^{−|x|}), σ(x) and 1 − σ(x) from e^{−|x|}
/// without cancellation (`FulcrumFloat.logisticParts`): small losses keep their relative accuracy
/// and large |x| never overflows. Row sums are accumulated per 512-element chunk in Double.
/// **Non-finite** logits or targets throw `nonFiniteValue` naming the first one. Targets outside
/// [0, 1] are not looked for on the fast path (as in PyTorch); when they make the loss non-finite
/// (a focal factor of a negative base, a sum that overflows), the first one is named. **Cost:** one
/// exponential and one division per element, no logarithm; the focal factor adds a few products
/// for whole γ ∈ 1 … 4 and one more logarithm, exponential and division otherwise; O(N·C). **Determinism:** fixed row blocks
/// combined in order, bitwise identical for any `Threads.count`.
///
/// ```swift
/// let bce = SigmoidBinaryCrossEntropy<Float>(positiveWeights: posWeight)
/// let loss = try bce.lossAndGradient(logits: x, targets: y, gradient: g)
/// ```
public struct SigmoidBinaryCrossEntropy<T: FulcrumFloat>: Sendable {
    /// π_c (C finite values ≥ 0), PyTorch's `pos_weight`; nil for all ones.
    public var positiveWeights: [T]?
    /// w_c (C finite values ≥ 0), PyTorch's `weight` broadcast over rows; nil for all ones.
    public var classWeights: [T]?
    /// γ ≥ 0: the focal exponent (0 for plain BCE).
    public var focalGamma: T
    /// α ∈ [0, 1]: the focal class balance α_t; nil for none.
    public var focalAlpha: T?
    /// How the N·C element losses are combined.
    public var reduction: Reduction

    /// A sigmoid BCE (PyTorch's defaults); validated when called.
    public init(positiveWeights: [T]? = nil, classWeights: [T]? = nil, focalGamma: T = 0, focalAlpha: T? = nil,
                reduction: Reduction = .mean) {
        self.positiveWeights = positiveWeights
        self.classWeights = classWeights
        self.focalGamma = focalGamma
        self.focalAlpha = focalAlpha
        self.reduction = reduction
    }

    /// The reduced loss, and dL/dlogits written into `gradient` (N×C, may be the logits' memory).
    /// - Throws: `FulcrumError` naming `targets`/`gradient` (shape), `positiveWeights`,
    ///   `classWeights` (count, finite ≥ 0), `focalGamma`, `focalAlpha`, `gradientScale`, an
    ///   empty mean (`logits`), or the first non-finite `logits`/`targets` element; the first
    ///   target outside [0, 1] when the loss is not finite; the weights (or `logits`) when the
    ///   loss overflows T.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(logits: MatrixView<T>, targets: MatrixView<T>, gradient: MutableMatrixView<T>,
                                gradientScale: T = 1) throws -> T {
        try checkShape(MatrixView(gradient), rows: logits.rows, columns: logits.columns, argument: "gradient")
        return try evaluate(logits, targets, gradient, gradientScale)
    }

    /// The reduced loss without a gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func loss(logits: MatrixView<T>, targets: MatrixView<T>) throws -> T {
        try evaluate(logits, targets, nil, 1)
    }

    func evaluate(_ logits: MatrixView<T>, _ targets: MatrixView<T>, _ gradient: MutableMatrixView<T>?, _ gradientScale: T) throws -> T {
        let (rows, columns) = (logits.rows, logits.columns)
        try checkShape(targets, rows: rows, columns: columns, argument: "targets")
        for (name, values) in [("positiveWeights", positiveWeights), ("classWeights", classWeights)] {
            guard let values else { continue }
            try checkCount(values.count, columns, argument: name)
            if let i = values.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw FulcrumError.invalidParameter(argument: "\(name)[\(i)]", value: "\(values[i])", requirement: "finite and >= 0")
            }
        }
        guard focalGamma.isFinite, focalGamma >= 0 else {
            throw FulcrumError.invalidParameter(argument: "focalGamma", value: "\(focalGamma)", requirement: "finite and >= 0")
        }
        if let a = focalAlpha, !(a >= 0 && a <= 1) {
            throw FulcrumError.invalidParameter(argument: "focalAlpha", value: "\(a)", requirement: "in [0, 1]")
        }
        guard gradientScale.isFinite else {
            throw FulcrumError.invalidParameter(argument: "gradientScale", value: "\(gradientScale)", requirement: "finite")
        }
        let count = rows * columns
        if reduction == .mean && count == 0 {
            throw FulcrumError.emptyReduction(argument: "logits", reason: "a mean over no elements")
        }
        guard count > 0 else { return 0 }  // a sum over nothing
        let scale = reduction == .mean ? 1 / Double(count) : 1
        // Absent weights read as ones in the general pass (all C > 0 long, so their pointers exist).
        let ones = positiveWeights == nil || classWeights == nil ? [T](repeating: 1, count: columns) : []
        let sums = (positiveWeights ?? ones).withUnsafeBufferPointer { pw in
            (classWeights ?? ones).withUnsafeBufferPointer { cw in
                let plan = SigmoidPlan<T>(columns: columns, positiveWeights: pw.baseAddress!, classWeights: cw.baseAddress!,
                                          weighted: positiveWeights != nil || classWeights != nil, gamma: focalGamma,
                                          alpha: focalAlpha, gradientScale: T(Double(gradientScale) * scale),
                                          writesGradient: gradient != nil)
                return blockSums(rows: rows, classes: columns) { range in
                    var total = LossSums()
                    for n in range {
                        guard let s = sigmoidBinaryCrossEntropyRow(logits: logits.row(n), targets: targets.row(n),
                                                                   gradient: gradient?.row(n), plan: plan) else {
                            total.firstNonFinite = total.firstNonFinite ?? n
                            continue
                        }
                        total.loss += s
                    }
                    return total
                }
            }
        }
        if let n = sums.firstNonFinite {
            for (name, view) in [("logits", logits), ("targets", targets)] {
                if let j = (0..<columns).first(where: { !view[n, $0].isFinite }) {
                    throw FulcrumError.nonFiniteValue(argument: name, row: n, column: j)
                }
            }
        }
        // A flagged row with finite inputs (x + y overflowed) or a non-finite loss: name a
        // target outside [0, 1] if there is one.
        if sums.firstNonFinite != nil || !sums.loss.isFinite, let (n, j) = Self.firstTargetOutsideUnit(targets) {
            throw FulcrumError.invalidParameter(argument: "targets[\(n), \(j)]", value: "\(targets[n, j])", requirement: "in [0, 1]")
        }
        return try representableLoss(sums.loss * scale, as: T.self, parameters: scaleOptions)
    }

    /// The position of the first target outside [0, 1], or nil.
    static func firstTargetOutsideUnit(_ targets: MatrixView<T>) -> (Int, Int)? {
        for n in 0..<targets.rows {
            if let j = (0..<targets.columns).first(where: { !(targets[n, $0] >= 0 && targets[n, $0] <= 1) }) { return (n, j) }
        }
        return nil
    }

    /// The options that scale the loss, as named in an overflow error.
    var scaleOptions: String {
        namedOptions([("positiveWeights", positiveWeights != nil), ("classWeights", classWeights != nil)])
    }
}
