import FulcrumKernels

/// The comp-sum losses of "Cross-Entropy Loss Functions: Theoretical Analysis and Applications"
/// (Mao, Mohri, Zhong): cross-entropy, generalized cross-entropy, mean absolute error and the
/// sum-exponential loss, fused forward+backward on the softmax cross-entropy kernel.
///
/// For a row with logits h, target y, margin parameter ρ > 0 and class weights w:
///
///     u = Σ_{y'≠y} exp((h_{y'} − h_y)/ρ) = 1/p_y − 1,   p = softmax(h/ρ)
///     ℓ = w_y·Φ^τ(u),   Φ^1(u) = log(1 + u),   Φ^τ(u) = ((1 + u)^{1−τ} − 1)/(1 − τ)  (τ ≠ 1)
///
/// (the paper's comp-sum family Φ^τ, τ ≥ 0; ρ = 1 is the plain family and ρ the margin of its
/// adversarial ρ-margin losses). Special cases: τ = 0 sum-exponential (1/p_y − 1), τ = 1
/// cross-entropy (−log p_y), τ = 1 + q generalized cross-entropy (1 − p_y^q)/q for q ∈ (0, 1],
/// τ = 2 mean absolute error 1 − p_y (q = 1).
///
/// The gradient is ∂ℓ/∂h_j = (w_y·p_y^{τ−1}/ρ)·(p_j − δ_jy). Both come out of the softmax
/// cross-entropy kernel's passes through a per-row `CrossEntropyRowModulation`: one read of the
/// logits and one write of the gradient, O(N·C).
///
/// **Accuracy.** The loss is computed from ν = −log p_y as −expm1(−(τ−1)ν)/(τ−1) (and MAE from
/// the kernel's accurate 1 − p_y), so small losses keep their relative accuracy. As q → 0 GCE
/// tends to cross-entropy. **Non-finite logits** follow `nonFinitePolicy` as in
/// `SoftmaxCrossEntropy`. **Determinism:** bitwise identical for any `Threads.count`.
///
/// ```swift
/// let gce = try CompSumLoss<Float>.generalizedCrossEntropy(q: 0.7)
/// let result = try gce.lossAndGradient(inPlace: logits, targets: targets)
/// ```
public struct CompSumLoss<T: FulcrumFloat>: Sendable {
    /// τ ≥ 0: the comp-sum exponent.
    public var tau: T
    /// ρ > 0: the logits are divided by ρ before the softmax (1 for the plain losses).
    public var rho: T
    /// Per-class weights (C finite values ≥ 0), PyTorch's `weight`; nil for all ones.
    public var classWeights: [T]?
    /// Rows whose target equals this are ignored (PyTorch's `ignore_index`).
    public var ignoreIndex: Int32
    /// How per-row losses are combined (`.mean` divides by Σ w_y over counted rows).
    public var reduction: Reduction
    /// What a NaN or ±∞ logit does.
    public var nonFinitePolicy: NonFinitePolicy

    /// A comp-sum loss with exponent τ ≥ 0; validated when called.
    public init(tau: T, rho: T = 1, classWeights: [T]? = nil, ignoreIndex: Int32 = -100,
                reduction: Reduction = .mean, nonFinitePolicy: NonFinitePolicy = .throwError) {
        self.tau = tau
        self.rho = rho
        self.classWeights = classWeights
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
        self.nonFinitePolicy = nonFinitePolicy
    }

    /// Cross-entropy (τ = 1).
    public static func crossEntropy(classWeights: [T]? = nil, reduction: Reduction = .mean) -> CompSumLoss {
        CompSumLoss(tau: 1, classWeights: classWeights, reduction: reduction)
    }

    /// Generalized cross-entropy (1 − p_y^q)/q of "Generalized Cross Entropy Loss for Training
    /// Deep Neural Networks with Noisy Labels" (τ = 1 + q).
    /// - Throws: `FulcrumError.invalidParameter` (argument `q`) unless q ∈ (0, 1].
    public static func generalizedCrossEntropy(q: T, classWeights: [T]? = nil, reduction: Reduction = .mean) throws -> CompSumLoss {
        guard q > 0, q <= 1 else {
            throw FulcrumError.invalidParameter(argument: "q", value: "\(q)", requirement: "in (0, 1]")
        }
        return CompSumLoss(tau: 1 + q, classWeights: classWeights, reduction: reduction)
    }

    /// Mean absolute error 1 − p_y (τ = 2, GCE with q = 1).
    public static func meanAbsoluteError(classWeights: [T]? = nil, reduction: Reduction = .mean) -> CompSumLoss {
        CompSumLoss(tau: 2, classWeights: classWeights, reduction: reduction)
    }

    /// The sum-exponential loss Σ_{y'≠y} e^{h_{y'} − h_y} = 1/p_y − 1 (τ = 0).
    public static func sumExponential(classWeights: [T]? = nil, reduction: Reduction = .mean) -> CompSumLoss {
        CompSumLoss(tau: 0, classWeights: classWeights, reduction: reduction)
    }

    /// The softmax cross-entropy kernel configured for this loss.
    /// - Throws: `FulcrumError.invalidParameter` for τ < 0 (argument `tau`) or ρ ≤ 0 (`rho`).
    public func kernel() throws -> SoftmaxCrossEntropy<T> {
        guard tau.isFinite, tau >= 0 else {
            throw FulcrumError.invalidParameter(argument: "tau", value: "\(tau)", requirement: "finite and >= 0")
        }
        guard rho.isFinite, rho > 0 else {
            throw FulcrumError.invalidParameter(argument: "rho", value: "\(rho)", requirement: "finite and > 0")
        }
        return SoftmaxCrossEntropy(classWeights: classWeights, ignoreIndex: ignoreIndex, reduction: reduction,
                                   temperature: rho, nonFinitePolicy: nonFinitePolicy,
                                   rowModulation: CompSumModulation(tau: Double(tau)))
    }

    /// The loss, and dL/dlogits written into `gradient` (N×C). Arguments and errors as in
    /// `SoftmaxCrossEntropy.lossAndGradient(logits:targets:gradient:…)`; `rowLosses` receives
    /// each row's w_y·Φ^τ.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, gradient: MutableMatrixView<T>,
        gradientScale: T = 1, rowLosses: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        try kernel().lossAndGradient(logits: logits, targets: targets, gradient: gradient,
                                     gradientScale: gradientScale, rowLosses: rowLosses)
    }

    /// The loss, with dL/dlogits written over the logits.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        inPlace logits: MutableMatrixView<T>, targets: UnsafeBufferPointer<Int32>,
        gradientScale: T = 1, rowLosses: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        try kernel().lossAndGradient(inPlace: logits, targets: targets, gradientScale: gradientScale, rowLosses: rowLosses)
    }

    /// The loss without a gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func loss(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, rowLosses: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        try kernel().loss(logits: logits, targets: targets, rowLosses: rowLosses)
    }
}
