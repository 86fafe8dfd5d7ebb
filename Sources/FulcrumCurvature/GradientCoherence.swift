import FulcrumKernels

/// Gradient coherence, the statistic of "On the Generalization Mystery in Deep Learning"
/// (Chatterjee & Zielinski): α = ‖E[g]‖² / E[‖g‖²] over per-example gradients g₁ … g_N.
///
/// α lies in [1/N, 1] up to rounding when the gradients are not all zero: 1 when every
/// example pulls the same way, about 1/N for orthogonal gradients. This file takes the gradients
/// as an explicit N×P matrix; `LinearHeadCurvature.gradientCoherence` gives the closed form for a
/// softmax-CE linear head without materialising them.
public enum GradientCoherence {
    /// α of the rows of `gradients` (N×P, one per-example gradient per row).
    ///
    /// Cost O(N·P), one pass; the column means and squared norms are accumulated in Double, in
    /// row order within fixed column blocks, so the result does not depend on the thread count.
    /// - Throws: `FulcrumError.emptyReduction` for N = 0, P = 0 or all-zero gradients (0/0);
    ///   `nonFiniteValue` for a NaN or infinity.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func coherence<T: FulcrumFloat>(of gradients: MatrixView<T>) throws -> Double {
        let (rows, columns) = (gradients.rows, gradients.columns)
        guard rows > 0, columns > 0 else {
            throw FulcrumError.emptyReduction(argument: "gradients", reason: "shape \(gradients.shape)")
        }
        for i in 0..<rows { try checkFinite(gradients.row(i), count: columns, argument: "gradients", row: i) }
        let blockSize = 1024
        let blocks = (columns + blockSize - 1) / blockSize
        var meanSquares = [Double](repeating: 0, count: blocks)
        var squaredNorms = [Double](repeating: 0, count: blocks)
        meanSquares.withUnsafeMutableBufferPointer { ms in
            squaredNorms.withUnsafeMutableBufferPointer { sn in
                let (ms, sn) = (SendablePointer(ms.baseAddress!), SendablePointer(sn.baseAddress!))
                Threads.forEachBlock(count: columns, blockSize: blockSize) { block, range in
                    var sums = [Double](repeating: 0, count: range.count)
                    var squares = 0.0
                    for i in 0..<rows {
                        let g = gradients.row(i)
                        for j in range {
                            let x = Double(g[j])
                            sums[j - range.lowerBound] += x
                            squares += x * x
                        }
                    }
                    ms.pointer[block] = sums.reduce(0) { $0 + $1 * $1 }
                    sn.pointer[block] = squares
                }
            }
        }
        let n = Double(rows)
        let numerator = meanSquares.reduce(0, +) / (n * n)
        let denominator = squaredNorms.reduce(0, +) / n
        guard denominator > 0 else {
            throw FulcrumError.emptyReduction(argument: "gradients", reason: "every gradient is zero, coherence is 0/0")
        }
        return numerator / denominator
    }

    /// α for the per-example gradients of a softmax cross-entropy linear head, in closed form.
    ///
    /// Example n's gradient with respect to (W, b) is (g_n ⊗ f_n, g_n) with g_n = ∂ℓ_n/∂x_n
    /// (`LinearHeadHessian.rowGradients`, e.g. p_n − onehot(y_n) for the plain loss), so without
    /// forming the N per-example gradients:
    ///
    ///     ‖Σ_n grad_n‖² = ‖Gᵀ·F‖²_F + ‖Σ_n g_n‖²,   ‖grad_n‖² = ‖g_n‖²·(‖f_n‖² + 1)
    ///
    /// (without the "+ 1" parts for a head without bias), averaged over the N' rows that are not
    /// ignored. Cost: one C×D×N GEMM and O(N·(C + D)).
    /// - Throws: `FulcrumError.emptyReduction` when every per-example gradient is zero;
    ///   `invalidParameter` naming `head` when the squared norm of a feature row overflows `T`.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func coherence<T: FulcrumFloat>(of head: LinearHeadHessian<T>) throws -> Double {
        let (n, c, d) = (head.samples, head.classes, head.featureCount)
        var g = try Matrix<T>(rows: n, columns: c, repeating: 0)
        try g.withMutableView { try head.rowGradients(into: $0) }
        var product = try Matrix<T>(rows: c, columns: d, repeating: 0)
        var squaredNorms = 0.0
        var biasSum = [Double](repeating: 0, count: c)
        try head.withFeatures { f in
            try g.withView { gv in try product.withMutableView { try BLAS.gemm(gv, transposeA: true, f, into: $0) } }
            for i in 0..<n {
                let gi = g.storage[(i * c)..<((i + 1) * c)].reduce(0.0) { $0 + Double($1) * Double($1) }
                let fi = try VectorArithmetic.squaredNorm(f.row(i), count: d, argument: "head", row: i)
                squaredNorms += gi * (fi + (head.hasBias ? 1 : 0))
                if head.hasBias { for j in 0..<c { biasSum[j] += Double(g[i, j]) } }
            }
        }
        let sumNorm = product.storage.reduce(0.0) { $0 + Double($1) * Double($1) } + biasSum.reduce(0) { $0 + $1 * $1 }
        let counted = Double(head.lossResult.countedRows)
        guard squaredNorms > 0 else {
            throw FulcrumError.emptyReduction(argument: "head", reason: "every per-example gradient is zero, coherence is 0/0")
        }
        return sumNorm / (counted * squaredNorms)
    }
}
