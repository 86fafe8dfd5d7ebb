// The per-row hook of the fused softmax cross-entropy: a loss that is a function of the row's
// target probability and cross-entropy keeps the kernel's passes and only changes two scalars.

/// What the row kernel knows about one row once its softmax is summed, handed to a
/// `CrossEntropyRowModulation`. All values are Double, computed from the row's Double sums.
public struct CrossEntropyRowStatistics: Sendable, Equatable {
    /// The row's index in the call.
    public var row: Int
    /// The row's target class y.
    public var target: Int
    /// w_y, the target's class weight (1 without class weights).
    public var targetWeight: Double
    /// −log p_y, computed as log1p(Σ_{j≠y} e_j / e_y): full relative accuracy for small values.
    public var negativeLogLikelihood: Double
    /// p_y.
    public var targetProbability: Double
    /// 1 − p_y = Σ_{j≠y} e_j / Σ_j e_j: full relative accuracy even when p_y rounds to 1.
    public var missProbability: Double
    /// The kernel's cross-entropy term CE = (1 − ε)·w_y·(−log p_y) + (ε/K)·Σ_j w_j·(−log p_j)
    /// (w_y·(−log p_y) without label smoothing).
    public var crossEntropy: Double

    /// The statistics of one row.
    @inlinable
    public init(row: Int, target: Int, targetWeight: Double, negativeLogLikelihood: Double,
                targetProbability: Double, missProbability: Double, crossEntropy: Double) {
        self.row = row
        self.target = target
        self.targetWeight = targetWeight
        self.negativeLogLikelihood = negativeLogLikelihood
        self.targetProbability = targetProbability
        self.missProbability = missProbability
        self.crossEntropy = crossEntropy
    }
}

/// A row's modulated loss ℓ = f(CE, log p_y) and its two partial derivatives.
public struct CrossEntropyRowModulated: Sendable, Equatable {
    /// ℓ, the row's loss before the z-loss term and the reduction.
    public var loss: Double
    /// ∂ℓ/∂CE (1 for plain cross-entropy).
    public var crossEntropyFactor: Double
    /// ∂ℓ/∂(log p_y) with CE held fixed (0 for plain cross-entropy).
    public var logProbabilityFactor: Double

    /// A row's loss and partial derivatives.
    @inlinable
    public init(loss: Double, crossEntropyFactor: Double, logProbabilityFactor: Double) {
        self.loss = loss
        self.crossEntropyFactor = crossEntropyFactor
        self.logProbabilityFactor = logProbabilityFactor
    }
}

/// A per-row modulation of the fused softmax cross-entropy: the row's loss becomes
/// ℓ = f(CE, log p_y), any differentiable function of the row's cross-entropy term and its
/// target log-probability (and of the row index, for per-row weights).
///
/// Why it fits the kernel: with F = ∂ℓ/∂CE and G = ∂ℓ/∂log p_y, the chain rule gives
///
///     ∂ℓ/∂z_j = F·∂CE/∂z_j + G·(δ_jy − p_j),
///
/// which keeps the form α·p_j − β·w_j − c·δ_jy of the plain gradient: only the row's scalars α,
/// β, c change, so the kernel's passes over the row are the same as for cross-entropy and the
/// hook is called once per row, after the sums and before the write pass. The focal loss
/// (`FocalModulation`), generalized cross-entropy, MAE and the comp-sum family, per-row upstream
/// gradients (sequence log-probabilities) and per-row scales are all instances.
///
/// The z-loss term and the reduction are applied outside the modulation. The kernel calls the
/// hook only for rows that are not ignored and whose logits are finite; it runs on worker
/// threads, so `modulate` must be a pure function of its argument (and of immutable state).
/// Returning a non-finite value yields a non-finite loss and gradient for that row.
public protocol CrossEntropyRowModulation: Sendable {
    /// The row's loss and its partial derivatives.
    func modulate(_ row: CrossEntropyRowStatistics) -> CrossEntropyRowModulated
}

/// The focal modulation ℓ = (1 − p_y)^γ·CE of "Focal Loss for Dense Object Detection":
/// F = (1 − p_y)^γ, G = −γ·(1 − p_y)^{γ−1}·p_y·CE (0 when CE = 0, so that γ < 1 stays finite at
/// p_y = 1). `SoftmaxCrossEntropy.focalGamma` uses it.
public struct FocalModulation: CrossEntropyRowModulation {
    /// γ ≥ 0.
    public var gamma: Double

    /// The focal modulation with exponent γ ≥ 0.
    @inlinable
    public init(gamma: Double) { self.gamma = gamma }

    /// (1 − p_y)^γ·CE and its partial derivatives.
    @inlinable
    public func modulate(_ row: CrossEntropyRowStatistics) -> CrossEntropyRowModulated {
        let miss = row.missProbability, ce = row.crossEntropy
        let factor = Double.pow(miss, gamma)
        let slope = ce == 0 ? 0 : gamma * Double.pow(miss, gamma - 1) * row.targetProbability * ce
        return CrossEntropyRowModulated(loss: factor * ce, crossEntropyFactor: factor, logProbabilityFactor: -slope)
    }
}
