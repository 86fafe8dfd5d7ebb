import FulcrumKernels

/// Eigenvalues and unit eigenvectors of a symmetric operator, as found by `PowerIteration` or
/// `Lanczos`.
public struct Eigenpairs<Scalar: FulcrumFloat>: Sendable {
    /// The eigenvalues, in the order the method returns them (see the method).
    public var values: [Scalar]
    /// count × dimension: row i is the unit eigenvector of `values[i]`.
    public var vectors: Matrix<Scalar>
    /// ‖A·vᵢ − λᵢ·vᵢ‖ for each pair: computed exactly by power iteration, and by the standard
    /// Lanczos bound |βₘ·sₘᵢ| (last off-diagonal times last component of the Ritz vector) for Lanczos.
    public var residualNorms: [Scalar]
    /// Operator applications spent on each pair (power iteration) or in total (Lanczos, same
    /// number for every pair).
    public var iterations: [Int]
    /// Whether each pair met the tolerance before the iteration limit.
    public var converged: [Bool]

    @inlinable
    init(values: [Scalar], vectors: Matrix<Scalar>, residualNorms: [Scalar], iterations: [Int], converged: [Bool]) {
        (self.values, self.vectors, self.residualNorms, self.iterations, self.converged) = (values, vectors, residualNorms, iterations, converged)
    }
}
