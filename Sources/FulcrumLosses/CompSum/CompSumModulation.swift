import FulcrumKernels

/// The comp-sum row loss Φ^τ(u), u = Σ_{y'≠y} e^{z_{y'} − z_y} = 1/p_y − 1, as a modulation of the
/// fused softmax cross-entropy ("Cross-Entropy Loss Functions: Theoretical Analysis and
/// Applications", the comp-sum family of Section 2):
///
///     Φ^τ(u) = log(1 + u)                       τ = 1   (cross-entropy)
///     Φ^τ(u) = ((1 + u)^{1−τ} − 1)/(1 − τ)      τ ≠ 1, τ ≥ 0
///
/// With 1 + u = 1/p_y and ν = −log p_y this is (1 − p_y^{τ−1})/(τ − 1) = −expm1(−(τ − 1)·ν)/(τ − 1):
/// τ = 0 the sum-exponential loss 1/p_y − 1, τ ∈ (1, 2) generalized cross-entropy with q = τ − 1,
/// τ = 2 the mean absolute error 1 − p_y. Computed from ν (accurate for small losses), times the
/// target's class weight w_y. ∂ℓ/∂log p_y = −w_y·p_y^{τ−1} = −w_y·e^{−(τ−1)·ν}; CE is not used.
struct CompSumModulation: CrossEntropyRowModulation {
    /// τ ≥ 0.
    var tau: Double

    func modulate(_ row: CrossEntropyRowStatistics) -> CrossEntropyRowModulated {
        let w = row.targetWeight, nll = row.negativeLogLikelihood, k = tau - 1
        if k == 0 {
            return CrossEntropyRowModulated(loss: w * nll, crossEntropyFactor: 0, logProbabilityFactor: -w)
        }
        if k == 1 {  // MAE: 1 − p_y from the kernel's accurate miss probability
            return CrossEntropyRowModulated(loss: w * row.missProbability, crossEntropyFactor: 0,
                                            logProbabilityFactor: -w * row.targetProbability)
        }
        let power = Double.exp(-k * nll)  // p_y^{τ−1}
        return CrossEntropyRowModulated(loss: -w * Double.expm1(-k * nll) / k, crossEntropyFactor: 0,
                                        logProbabilityFactor: -w * power)
    }
}
