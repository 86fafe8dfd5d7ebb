import FulcrumKernels

/// The eigenvalue density of a symmetric operator by stochastic Lanczos quadrature (SLQ), the
/// method of PyHessian's `density()` (Ghorbani, Krishnan & Xiao, "An Investigation into Neural
/// Net Optimization via Hessian Eigenvalue Density").
///
/// For each of `runs` Rademacher start vectors v (normalised), m Lanczos steps give the Gauss
/// quadrature of the spectral measure μ_v = Σᵢ (uᵢ·v)²·δ(λᵢ): nodes θₖ (Ritz values) and weights
/// τₖ² (squared first components of the tridiagonal eigenvectors, which sum to 1). Averaged over
/// runs, μ estimates the density (1/n)·Σᵢ δ(λᵢ); `density(at:sigma:)` broadens each node with a
/// Gaussian of width σ. Unlike PyHessian, the tridiagonal problem is solved by LAPACK `stev`
/// (real, symmetric), so weights are real and non-negative.
///
/// **Moments.** The m-node Gauss rule is exact for polynomials up to degree 2m − 1, so
/// `moment(k)` = Σ w·θᵏ equals the average of vᵀAᵏv/‖v‖² over the runs for k < 2m: an unbiased
/// estimate of tr(Aᵏ)/n (Hutchinson's estimator of the k-th moment).
public struct SpectralDensity: Sendable {
    /// Quadrature nodes of every run, concatenated (Ritz values).
    public var nodes: [Double]
    /// Their weights: τₖ²/runs, non-negative, summing to 1.
    public var weights: [Double]
    /// Number of start vectors.
    public var runs: Int

    /// Runs SLQ with `runs` start vectors and `steps` Lanczos steps each on `a`.
    ///
    /// Cost: runs·steps operator applications, plus runs·steps²·dimension vector work.
    /// - Throws: `FulcrumError.invalidParameter` for `runs < 1` or `steps` outside 1…dimension;
    ///   `nonFiniteValue` for a NaN or infinity in the operator's output; `lapackFailure`.
    @inlinable
    public init<Op: LinearOperator, G: RandomNumberGenerator>(
        of a: Op, steps: Int, runs: Int, using generator: inout G
    ) throws {
        guard runs >= 1 else {
            throw FulcrumError.invalidParameter(argument: "runs", value: "\(runs)", requirement: ">= 1")
        }
        var start = [Op.Scalar](repeating: 0, count: max(0, a.dimension))  // a negative one fails the steps check
        var nodes: [Double] = [], weights: [Double] = []
        for _ in 0..<runs {
            start.withUnsafeMutableBufferPointer { RademacherProbes.fill($0.baseAddress!, count: $0.count, using: &generator) }
            let lanczos = try start.withUnsafeBufferPointer { try Lanczos.decompose(a, steps: steps, start: $0) }
            let (theta, s) = try Lanczos.ritz(lanczos.alpha, lanczos.beta)
            for k in 0..<theta.count {
                nodes.append(theta[k])
                weights.append(s[k] * s[k] / Double(runs))  // first row of the eigenvector matrix
            }
        }
        self.nodes = nodes
        self.weights = weights
        self.runs = runs
    }

    /// The Gaussian-broadened density Σₖ wₖ·φ_σ(t − θₖ) at `t`; it integrates to 1 over ℝ.
    ///
    /// - Throws: `FulcrumError.invalidParameter` naming `sigma` (finite, > 0) or `t` (finite).
    @inlinable
    public func density(at t: Double, sigma: Double) throws -> Double {
        guard sigma.isFinite, sigma > 0 else {
            throw FulcrumError.invalidParameter(argument: "sigma", value: "\(sigma)", requirement: "finite and > 0")
        }
        guard t.isFinite else { throw FulcrumError.invalidParameter(argument: "t", value: "\(t)", requirement: "finite") }
        let c = 1 / (sigma * (2 * Double.pi).squareRoot())
        var total = 0.0
        for (theta, w) in zip(nodes, weights) {
            let u = (t - theta) / sigma
            total += w * c * Double.exp(-0.5 * u * u)
        }
        return total
    }

    /// Σₖ wₖ·θₖᵏ: the estimate of tr(Aᵏ)/n (exact quadrature of each run's vᵀAᵏv/‖v‖² for k < 2·steps).
    ///
    /// - Throws: `FulcrumError.invalidParameter` naming `k` when it is negative.
    @inlinable
    public func moment(_ k: Int) throws -> Double {
        guard k >= 0 else { throw FulcrumError.invalidParameter(argument: "k", value: "\(k)", requirement: ">= 0") }
        var total = 0.0
        for (theta, w) in zip(nodes, weights) {
            var p = 1.0
            for _ in 0..<k { p *= theta }
            total += w * p
        }
        return total
    }
}
