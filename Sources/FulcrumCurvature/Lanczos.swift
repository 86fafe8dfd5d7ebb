import FulcrumKernels

/// The Lanczos process with full reorthogonalisation, and the extreme eigenpairs it yields.
///
/// Starting from a unit vector q₁, m steps build an orthonormal Krylov basis Q = [q₁ … qₘ] and the
/// symmetric tridiagonal T = QᵀAQ (diagonal α, off-diagonal β). Every new vector is
/// reorthogonalised twice against the whole basis (classical Gram–Schmidt, "twice is enough"), so
/// the basis stays orthonormal to working precision and no spurious copies of converged
/// eigenvalues appear: the cost is m operator applications plus O(m²·dimension) vector work and
/// m·dimension memory for Q. The eigenpairs of T (LAPACK `stev`) give Ritz values θ and vectors
/// Q·s; the extreme ones converge first, typically far faster than power iteration.
public enum Lanczos {
    /// The tridiagonal matrix and basis of m Lanczos steps.
    public struct Decomposition<Scalar: FulcrumFloat>: Sendable {
        /// Diagonal α₁ … αₘ of T.
        public var alpha: [Double]
        /// Off-diagonal β₁ … βₘ₋₁ of T.
        public var beta: [Double]
        /// ‖r‖ after the last step: the residual norm βₘ that bounds every Ritz pair's error.
        public var lastBeta: Double
        /// m × dimension, row j is qⱼ₊₁ (orthonormal rows).
        public var basis: Matrix<Scalar>
        /// m, which is below the requested steps when the Krylov space became invariant early
        /// (then the Ritz values are exact eigenvalues).
        public var steps: Int { alpha.count }

        @inlinable
        init(alpha: [Double], beta: [Double], lastBeta: Double, basis: Matrix<Scalar>) {
            (self.alpha, self.beta, self.lastBeta, self.basis) = (alpha, beta, lastBeta, basis)
        }
    }

    /// Runs at most `steps` Lanczos steps on the symmetric operator `a` from `start` (any non-zero
    /// vector, normalised here).
    ///
    /// Stops early when βⱼ ≤ 64·ε·‖T‖ (an invariant subspace: the remaining Ritz values are exact).
    /// - Throws: `FulcrumError.invalidParameter` for `steps` outside 1…dimension or a zero `start`,
    ///   or naming `start` or `operator` when the squared norm of `start` or of a new basis vector
    ///   overflows `Scalar`; `shapeMismatch` for a start of the wrong length; `nonFiniteValue` for
    ///   a NaN or infinity in `start` or in the operator's output (argument `operator`).
    @inlinable
    public static func decompose<Op: LinearOperator>(
        _ a: Op, steps: Int, start: UnsafeBufferPointer<Op.Scalar>
    ) throws -> Decomposition<Op.Scalar> {
        typealias T = Op.Scalar
        let n = a.dimension
        guard steps >= 1, steps <= n else {
            throw FulcrumError.invalidParameter(argument: "steps", value: "\(steps)", requirement: "in 1...\(n) (the operator's dimension)")
        }
        guard start.count == n else {
            throw FulcrumError.shapeMismatch(argument: "start", expected: "\(n)", actual: "\(start.count)")
        }
        try checkFinite(start.baseAddress!, count: n, argument: "start")
        let startNorm = try VectorArithmetic.squaredNorm(start.baseAddress!, count: n, argument: "start").squareRoot()
        guard startNorm > 0 else {
            throw FulcrumError.invalidParameter(argument: "start", value: "a vector of length 0", requirement: "non-zero")
        }
        var basis = try Matrix<T>(rows: steps, columns: n, repeating: 0)
        var alpha: [Double] = [], beta: [Double] = []
        var lastBeta = 0.0
        var w = [T](repeating: 0, count: n)
        try basis.withMutableView { q in
            try w.withUnsafeMutableBufferPointer { wb in
                let pw = wb.baseAddress!
                q.row(0).update(from: start.baseAddress!, count: n)
                VectorArithmetic.scale(q.row(0), by: T(1 / startNorm), count: n)
                var normT = 0.0
                for j in 0..<steps {
                    try a.apply(UnsafeBufferPointer(start: q.row(j), count: n), into: wb)
                    try checkFinite(pw, count: n, argument: "operator")
                    let aj = VectorArithmetic.dot(UnsafePointer(q.row(j)), UnsafePointer(pw), count: n)
                    alpha.append(aj)
                    // Full reorthogonalisation against q₁ … qⱼ, twice; it also removes the
                    // three-term recurrence's αⱼqⱼ + βⱼ₋₁qⱼ₋₁.
                    for _ in 0..<2 {
                        VectorArithmetic.subtractProjections(pw, onto: MatrixView(q), count: j + 1, length: n)
                    }
                    let bj = try VectorArithmetic.squaredNorm(UnsafePointer(pw), count: n, argument: "operator").squareRoot()
                    normT = max(normT, abs(aj) + bj + (beta.last ?? 0))
                    lastBeta = bj
                    if j == steps - 1 { break }
                    if bj <= 64 * Double(T.ulpOfOne) * normT { lastBeta = 0; break }
                    beta.append(bj)
                    q.row(j + 1).update(from: pw, count: n)
                    VectorArithmetic.scale(q.row(j + 1), by: T(1 / bj), count: n)
                }
            }
        }
        let m = alpha.count
        if m < steps {
            basis = try Matrix(rows: m, columns: n, elements: Array(basis.storage[0..<(m * n)]))
        }
        return Decomposition(alpha: alpha, beta: beta, lastBeta: lastBeta, basis: basis)
    }

    /// The `count` largest (algebraic) eigenpairs of the symmetric operator `a` from `steps` Lanczos
    /// steps started at a Rademacher vector drawn from `generator`.
    ///
    /// Values are in decreasing order; vectors are the Ritz vectors Q·s (unit length); residual
    /// norms are the bound |βₘ·sₘ|, zero when the Krylov space became invariant. `iterations`
    /// holds the number of steps taken for every pair; a pair counts as converged when its
    /// residual bound is at most `tolerance·max(|θ|)`.
    /// - Throws: as `decompose`, plus `invalidParameter` when `count` is not in 1…steps
    ///   (or exceeds the steps actually taken), and `lapackFailure` if `stev` fails.
    @inlinable
    public static func eigenpairs<Op: LinearOperator, G: RandomNumberGenerator>(
        of a: Op, count: Int, steps: Int, tolerance: Double = 1e-6, using generator: inout G
    ) throws -> Eigenpairs<Op.Scalar> {
        typealias T = Op.Scalar
        guard count >= 1, count <= steps else {
            throw FulcrumError.invalidParameter(argument: "count", value: "\(count)", requirement: "in 1...\(steps) (the number of steps)")
        }
        var start = [T](repeating: 0, count: max(0, a.dimension))
        start.withUnsafeMutableBufferPointer { RademacherProbes.fill($0.baseAddress!, count: $0.count, using: &generator) }
        let lanczos = try start.withUnsafeBufferPointer { try decompose(a, steps: steps, start: $0) }
        let m = lanczos.steps
        guard count <= m else {
            throw FulcrumError.invalidParameter(argument: "count", value: "\(count)", requirement: "<= \(m), the dimension of the invariant Krylov space found")
        }
        let (theta, s) = try ritz(lanczos.alpha, lanczos.beta)
        let n = a.dimension
        var vectors = try Matrix<T>(rows: count, columns: n, repeating: 0)
        var values: [T] = [], residuals: [T] = [], converged: [Bool] = []
        let scale = theta.map(abs).max() ?? 0
        lanczos.basis.withView { q in
            vectors.withMutableView { out in
                for r in 0..<count {
                    let k = m - 1 - r  // stev sorts ascending
                    let y = out.row(r)
                    for j in 0..<m {
                        VectorArithmetic.addScaled(T(s[j * m + k]), q.row(j), to: y, count: n)
                    }
                    let bound = abs(lanczos.lastBeta * s[(m - 1) * m + k])
                    values.append(T(theta[k]))
                    residuals.append(T(bound))
                    converged.append(bound <= tolerance * scale)
                }
            }
        }
        return Eigenpairs(values: values, vectors: vectors, residualNorms: residuals,
                          iterations: Array(repeating: m, count: count), converged: converged)
    }

    /// Eigenvalues (ascending) and eigenvectors (m×m row-major, column k for value k) of the
    /// tridiagonal matrix with diagonal `alpha` and off-diagonal `beta`, in Double.
    @inlinable
    static func ritz(_ alpha: [Double], _ beta: [Double]) throws -> (values: [Double], vectors: [Double]) {
        let m = alpha.count
        var d = alpha, e = beta
        var z = try Matrix<Double>(rows: m, columns: m, repeating: 0)
        try d.withUnsafeMutableBufferPointer { d in
            try e.withUnsafeMutableBufferPointer { e in
                try z.withMutableView { try LAPACK.tridiagonalEigen(diagonal: d, offDiagonal: e, vectors: $0) }
            }
        }
        return (d, z.storage)
    }
}
