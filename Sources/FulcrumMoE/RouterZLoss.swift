import FulcrumKernels

/// The router z-loss of "ST-MoE: Designing Stable and Transferable Sparse Expert Models"
/// β·(1/N)·Σₜ lseₜ², with lseₜ = log Σⱼ e^{xₜⱼ} from the gating forward pass. It keeps
/// router logits small, where the softmax stays well conditioned in low precision.
public enum RouterZLoss {
    /// The loss and the `zLossCoefficient` γ = β/N to pass to `Gating.backward`
    /// (whose term γ·Σₜ lseₜ² has gradient 2γ·lseₜ·pₜⱼ).
    ///
    /// Accumulated in Double. - Throws: `invalidParameter` for β not finite and ≥ 0,
    /// `emptyReduction` for N = 0, `nonFiniteValue` for a non-finite lse.
    public static func evaluate(logSumExp: [Float], coefficient beta: Double) throws -> (value: Double, gradientCoefficient: Float) {
        try logSumExp.withUnsafeBufferPointer { try evaluate(logSumExp: $0, coefficient: beta) }
    }

    /// `evaluate(logSumExp:coefficient:)` over caller memory.
    public static func evaluate(logSumExp: UnsafeBufferPointer<Float>, coefficient beta: Double) throws -> (value: Double, gradientCoefficient: Float) {
        guard beta.isFinite, beta >= 0 else {
            throw FulcrumError.invalidParameter(argument: "coefficient", value: "\(beta)", requirement: "finite and >= 0")
        }
        guard !logSumExp.isEmpty else {
            throw FulcrumError.emptyReduction(argument: "logSumExp", reason: "no tokens")
        }
        var total = 0.0
        for (t, lse) in logSumExp.enumerated() {
            guard lse.isFinite else { throw FulcrumError.nonFiniteValue(argument: "logSumExp", row: t, column: 0) }
            total += Double(lse) * Double(lse)
        }
        let n = Double(logSumExp.count)
        return (beta * total / n, Float(beta / n))
    }
}
