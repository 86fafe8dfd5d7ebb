import FulcrumKernels

/// The value of a load-balancing loss and what its backward pass needs.
public struct BalanceLoss: Sendable {
    /// The loss, α·E′·Σᵢ f̃ᵢ·pᵢ (per-sequence: the mean of that over the sequences).
    public var value: Double
    /// S×E′ coefficients cₛᵢ = ∂value/∂sₜᵢ for the tokens t of sequence s: pass them as
    /// `balanceCoefficients` to `Gating.backward` with the routing's `sequenceOffsets`.
    public var coefficients: Matrix<Double>
    /// S×E′ loads f̃ᵢ the loss used (one row per sequence for the per-sequence scope, otherwise
    /// the same row repeated): fractions of the k·T assignments, null experts averaged.
    public var loads: Matrix<Double>
}
