import FulcrumKernels

/// The dominant eigenpairs of a symmetric operator by power iteration with deflation: the method
/// PyHessian uses for the top Hessian eigenvalue, and the one that "Outliers with Opposing
/// Signals" tracks as sharpness during training.
///
/// For pair i the iterate is kept orthogonal to the pairs already found (projection deflation,
/// v ← v − Σⱼ (uⱼ·v)·uⱼ before and after every product), so pair i converges to the eigenvalue of
/// i-th **largest magnitude**; for a positive semi-definite Hessian that is the i-th largest.
/// Each iteration costs one operator application and O(i·dimension) vector work; convergence is
/// geometric with ratio |λᵢ₊₁/λᵢ|, slow for clustered eigenvalues (prefer `Lanczos` there).
///
/// **Warm start.** Pass the previous step's eigenvectors as `warmStart` when tracking sharpness
/// along a training run: the iterate starts near the answer and converges in a few products.
public enum PowerIteration {
    /// The `count` dominant eigenpairs of the symmetric operator `a`.
    ///
    /// - Parameters:
    ///   - count: number of pairs, 1 … `a.dimension`.
    ///   - maxIterations: operator applications allowed per pair (≥ 1).
    ///   - tolerance: stop pair i when the Rayleigh quotient changes by at most
    ///     `tolerance·|λ|` between iterations (the PyHessian criterion).
    ///   - warmStart: optional start vectors, one per row (≤ `count` rows of `a.dimension`
    ///     elements); rows beyond it start from Rademacher vectors drawn from `generator`.
    /// - Returns: values in the order found (decreasing magnitude up to convergence), unit vectors,
    ///   exact residuals ‖A·v − λ·v‖, iterations and convergence flags.
    /// - Throws: `FulcrumError.invalidParameter` for `count` outside 1…dimension, `maxIterations < 1`,
    ///   a negative tolerance or a warm-start row of zero length, or naming `warmStart` or `operator`
    ///   when the squared norm of a warm-start row or of a product overflows `Scalar`;
    ///   `shapeMismatch` for a warm start of the wrong width or more than `count` rows;
    ///   `nonFiniteValue` for a NaN or infinity in the warm start (argument `warmStart`) or in the
    ///   operator's output (argument `operator`).
    @inlinable
    public static func eigenpairs<Op: LinearOperator, G: RandomNumberGenerator>(
        of a: Op, count: Int, maxIterations: Int = 100, tolerance: Double = 1e-6,
        warmStart: MatrixView<Op.Scalar>? = nil, using generator: inout G
    ) throws -> Eigenpairs<Op.Scalar> {
        typealias T = Op.Scalar
        let n = a.dimension
        guard count >= 1, count <= n else {
            throw FulcrumError.invalidParameter(argument: "count", value: "\(count)", requirement: "in 1...\(n) (the operator's dimension)")
        }
        guard maxIterations >= 1 else {
            throw FulcrumError.invalidParameter(argument: "maxIterations", value: "\(maxIterations)", requirement: ">= 1")
        }
        guard tolerance >= 0 else {
            throw FulcrumError.invalidParameter(argument: "tolerance", value: "\(tolerance)", requirement: ">= 0")
        }
        if let w = warmStart {
            guard w.columns == n, w.rows <= count else {
                throw FulcrumError.shapeMismatch(argument: "warmStart", expected: "at most \(count) rows of \(n)", actual: w.shape)
            }
            for i in 0..<w.rows {
                try checkFinite(w.row(i), count: n, argument: "warmStart", row: i)
                guard try VectorArithmetic.squaredNorm(w.row(i), count: n, argument: "warmStart", row: i) > 0 else {
                    throw FulcrumError.invalidParameter(argument: "warmStart", value: "row \(i) of length 0", requirement: "non-zero")
                }
            }
        }
        var result = Eigenpairs<T>(values: [], vectors: try Matrix(rows: count, columns: n, repeating: 0),
                                   residualNorms: [], iterations: [], converged: [])
        var v = [T](repeating: 0, count: n)
        var w = [T](repeating: 0, count: n)
        try result.vectors.withMutableView { found in
            try v.withUnsafeMutableBufferPointer { v in
                try w.withUnsafeMutableBufferPointer { w in
                    let (pv, pw) = (v.baseAddress!, w.baseAddress!)
                    for i in 0..<count {
                        if let start = warmStart, i < start.rows {
                            pv.update(from: start.row(i), count: n)
                        } else {
                            RademacherProbes.fill(pv, count: n, using: &generator)
                        }
                        var norm = projectOut(pv, found: found, count: i, n: n)
                        if norm == 0 {
                            // The start lies in the span of the pairs found: restart at random.
                            RademacherProbes.fill(pv, count: n, using: &generator)
                            norm = projectOut(pv, found: found, count: i, n: n)
                        }
                        VectorArithmetic.scale(pv, by: T(1 / norm), count: n)
                        var lambda = 0.0, previous = Double.nan, residual = 0.0
                        var iterations = 0, converged = false
                        while iterations < maxIterations {
                            try a.apply(UnsafeBufferPointer(v), into: w)
                            iterations += 1
                            try checkFinite(pw, count: n, argument: "operator")
                            // v ⟂ the pairs found, so v·(A·v) is the deflated Rayleigh quotient too.
                            lambda = VectorArithmetic.dot(pv, pw, count: n)
                            residual = VectorArithmetic.residualSquared(pw, pv, lambda, count: n).squareRoot()
                            _ = projectOut(pw, found: found, count: i, n: n)
                            let wNorm2 = try VectorArithmetic.squaredNorm(pw, count: n, argument: "operator")
                            if wNorm2 == 0 { converged = true; break }  // v is in the null space.
                            if abs(lambda - previous) <= tolerance * abs(lambda) { converged = true; break }
                            previous = lambda
                            if iterations == maxIterations { break }
                            pv.update(from: pw, count: n)
                            VectorArithmetic.scale(pv, by: T(1 / wNorm2.squareRoot()), count: n)
                        }
                        found.row(i).update(from: pv, count: n)
                        result.values.append(T(lambda))
                        result.residualNorms.append(T(residual))
                        result.iterations.append(iterations)
                        result.converged.append(converged)
                    }
                }
            }
        }
        return result
    }

    /// x ← x − Σⱼ (uⱼ·x)·uⱼ over the first `count` rows of `found` (applied twice, which keeps x
    /// orthogonal to working precision); returns ‖x‖.
    @inlinable
    static func projectOut<T: FulcrumFloat>(_ x: UnsafeMutablePointer<T>, found: MutableMatrixView<T>, count: Int, n: Int) -> Double {
        for _ in 0..<(count > 0 ? 2 : 0) {
            VectorArithmetic.subtractProjections(x, onto: MatrixView(found), count: count, length: n)
        }
        return VectorArithmetic.squaredNorm(UnsafePointer(x), count: n).squareRoot()
    }
}
