import FulcrumKernels

extension LabelDistributionallyRobustLoss {
    /// The adaptive ALDR-KL loss of "Label Distributionally Robust Losses for Multi-class
    /// Classification: Consistency, Robustness and Adaptivity": every instance i carries its own
    /// temperature λ_i, chosen adversarially together with the label distribution, around the base
    /// λ₀ = `lambda` with a quadratic penalty,
    ///
    ///     ψ_i = max_λ max_p Σ_k p_k·(s_k + c·[k ≠ y] − s_y) − λ·KL(p ‖ 1/K) − (α·log K/(2λ₀))·(λ − λ₀)²
    ///
    /// and this call takes one step of the paper's alternating update for the instances of the
    /// batch (as its authors' implementation does, with their dimensionless α):
    ///
    ///     q_i       = softmax((s + c·[k ≠ y])/λ_i),   λ_i the stored temperature   (the maximising p)
    ///     λ_i ← λ₀·(1 − KL(q_i ‖ 1/K)/(α·log K))                                 (the maximising λ for p = q_i)
    ///     ℓ_i = λ_i·log((1/K)·Σ_k exp((s_k + c·[k ≠ y] − s_y)/λ_i)) − (α·log K/(2λ₀))·(λ_i − λ₀)²
    ///     ∂ℓ_i/∂s_j = softmax((s + c·[k ≠ y])/λ_i)_j − δ_jy   (λ_i held fixed at its new value)
    ///
    /// The λ-step is exact: for fixed p the objective is a concave parabola in λ whose vertex is
    /// λ₀ − λ₀·KL(p ‖ 1/K)/(α·log K). Since 0 ≤ KL ≤ log K, α > 1 keeps every λ_i in
    /// [λ₀·(1 − 1/α), λ₀]: instances whose scores spread the distribution away from uniform (a
    /// confident, possibly noisy label) get a smaller λ, the rest stay near λ₀. At a fixed point of
    /// the update, ∂ψ_i/∂λ = 0 and the score gradient is the gradient of ψ_i itself. A single class
    /// (K = 1) keeps λ_i = λ₀ and ℓ_i = 0.
    ///
    /// - Parameters:
    ///   - logits: N×K scores.
    ///   - targets: N class indices (`ignoreIndex` rows get a zero gradient; their λ_i is kept).
    ///   - gradient: N×K output, dL/dscores (may be the scores' memory).
    ///   - instanceTemperatures: the N per-instance λ_i (finite, > 0; start them at λ₀), read
    ///     and overwritten with the updated values. Gather them by sample id before the call and
    ///     scatter them back after it.
    ///   - alpha: α > 1, the strength of the pull towards λ₀ (the authors' examples use α = 2;
    ///     larger α adapts less).
    /// - Returns: the reduced ℓ (`.mean` divides by the counted rows).
    /// - Throws: what `lossAndGradient` throws, and `invalidParameter` naming `alpha` (finite, > 1).
    ///   Parameter and shape errors leave the temperatures untouched; a non-finite score is found
    ///   while rows are processed, so other rows' temperatures may then already be updated.
    ///
    /// **Cost.** Two passes of exponentials over each row (the first finds KL(q_i ‖ 1/K) at the
    /// stored λ_i, the second the loss and gradient at the new one, on the row the first pass left
    /// in cache, reusing its chunk maxima): one read of the scores from memory, one write of the
    /// gradient, O(N·K).
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func adaptiveLossAndGradient(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, gradient: MutableMatrixView<T>,
        instanceTemperatures: UnsafeMutableBufferPointer<T>, alpha: T
    ) throws -> T {
        try checkShape(MatrixView(gradient), rows: logits.rows, columns: logits.columns, argument: "gradient")
        guard alpha.isFinite, alpha > 1 else {
            throw FulcrumError.invalidParameter(argument: "alpha", value: "\(alpha)", requirement: "finite and > 1")
        }
        let adaptation = TemperatureAdaptation(base: Double(lambda), alpha: Double(alpha), classes: logits.columns,
                                               temperatures: instanceTemperatures)
        return try evaluate(logits, targets, gradient, UnsafeBufferPointer(instanceTemperatures), nil, adaptation: adaptation)
    }
}

/// The ALDR-KL temperature step of one call: λ₀, α, log K and the per-instance temperatures.
struct TemperatureAdaptation<T: FulcrumFloat>: @unchecked Sendable {
    /// λ₀.
    let base: Double
    /// α·log K/λ₀, the curvature of the penalty (0 for K = 1).
    let curvature: Double
    /// The N stored λ_i; each row writes only its own entry.
    let temperatures: UnsafeMutableBufferPointer<T>

    init(base: Double, alpha: Double, classes: Int, temperatures: UnsafeMutableBufferPointer<T>) {
        self.base = base
        self.curvature = alpha * Double.log(Double(max(classes, 1))) / base
        self.temperatures = temperatures
    }

    /// The maximiser over λ of −λ·KL − (curvature/2)·(λ − λ₀)²: λ₀ − KL/curvature, at most λ₀.
    func temperature(divergence: Double) -> Double {
        curvature > 0 ? min(base, base - max(0, divergence) / curvature) : base
    }

    /// (curvature/2)·(λ − λ₀)².
    func penalty(_ lambda: Double) -> Double { curvature / 2 * (lambda - base) * (lambda - base) }
}
