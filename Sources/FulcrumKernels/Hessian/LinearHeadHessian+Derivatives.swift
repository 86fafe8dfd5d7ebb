// The gradient and the third derivative of the linear-head loss, on the operator's caches.

extension LinearHeadHessian {
    /// Each row's gradient with respect to its logits, ∂ℓ_n/∂x_n = (h_n·p_n − t_n)/τ with the
    /// smoothed, weighted target t_n = (1 − ε)·w_{y_n}·e_{y_n} + (ε/C)·w (N×C; zero rows for
    /// ignored targets), **not** scaled by the reduction. The per-example gradient of ℓ_n with
    /// respect to (W, b) is (g_n ⊗ f_n, g_n).
    ///
    /// - Throws: `FulcrumError.shapeMismatch` unless `gradients` is N×C.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func rowGradients(into gradients: MutableMatrixView<T>) throws {
        try checkShape(MatrixView(gradients), rows: samples, columns: classes, argument: "gradients")
        let c = classes
        let eps = loss.labelSmoothing
        let weights = loss.classWeights ?? [T](repeating: 1, count: c)
        let weightTotal = weights.reduce(0.0) { $0 + Double($1) }
        let h0 = T(Double(eps) / Double(c) * weightTotal)  // (ε/C)·Σw
        let tau = inverseTemperature
        probabilityStorage.withUnsafeBufferPointer { p in
            Threads.forEachBlock(count: samples, blockSize: Self.rowsPerBlock) { _, rows in
                for i in rows {
                    let g = gradients.row(i)
                    let t = targetStorage[i]
                    guard t != loss.ignoreIndex else { g.update(repeating: 0, count: c); continue }
                    let y = Int(t)
                    let wy = weights[y]
                    let h = (1 - eps) * wy + h0
                    let pi = p.baseAddress! + i * c
                    for j in 0..<c { g[j] = (h * pi[j] - eps / T(c) * weights[j]) * tau }
                    g[y] -= (1 - eps) * wy * tau
                }
            }
        }
    }

    /// The gradient of the reduced loss with respect to the flattened parameters (vec(W), b):
    /// (s·Gᵀ·F, s·Σ_n g_n) with G the row gradients. One N×C×D GEMM.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` unless `gradient` holds `dimension` elements.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func gradient(into gradient: UnsafeMutableBufferPointer<T>) throws {
        try checkCount(gradient.count, dimension, argument: "gradient")
        try withWorkspace(count: samples * classes + partialCount(width: classes)) { z in
            let g = MutableMatrixView(unchecked: z, rows: samples, columns: classes, rowStride: classes)
            try rowGradients(into: g)
            let s = reductionScale
            let sums = rowPass(width: classes, partials: z + samples * classes) { i, sums in
                let r = g.row(i)
                for j in 0..<classes { r[j] *= s }
                if let sums { for j in 0..<classes { sums[j] += r[j] } }
            }
            try backward(DirectionBlocks(base: z, samples: samples, classes: classes), biasSums: sums,
                         into: MutableMatrixView(unchecked: gradient.baseAddress, rows: 1, columns: dimension, rowStride: dimension))
        }
    }

    /// Σᵢ D³L[uᵢ, vᵢ]: the third derivative of the reduced loss contracted twice, summed over the
    /// direction pairs (rows of `first` and `second`, each k × dimension), as a parameter vector.
    ///
    /// Per row, with a = x-direction of u, b of v, ṗ = p ∘ (a − p·a) (the derivative of p along a):
    /// D³ℓ_n[a, b] = (h_n/τ³)·(ṗ ∘ b − ṗ·(p·b) − p·(ṗ·b)), mapped back through the head like the
    /// Hessian (Rᵀ·F and column sums). It is symmetric in u and v. The gradient of uᵀ·H·v with
    /// respect to the parameters, which the Hessian-alignment regularisers need. Cost: 2k + 1
    /// N×C×D GEMMs.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` for rows of the wrong width, different counts or a
    ///   wrong output length; `nonFiniteValue` naming `first` or `second`.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func thirdDerivative(first u: MatrixView<T>, second v: MatrixView<T>, into y: UnsafeMutableBufferPointer<T>) throws {
        guard u.columns == dimension, u.rows >= 1 else {
            throw FulcrumError.shapeMismatch(argument: "first", expected: "k x \(dimension)", actual: u.shape)
        }
        try checkShape(v, rows: u.rows, columns: dimension, argument: "second")
        try checkCount(y.count, dimension, argument: "y")
        try requireFinite(u, argument: "first")
        try requireFinite(v, argument: "second")
        let (k, c, cd) = (u.rows, classes, classes * featureCount)
        try withWorkspace(count: samples * 2 * k * c + partialCount(width: c)) { z in
            let blocks = DirectionBlocks(base: z, samples: samples, classes: c)
            try forward(u, into: blocks, firstBlock: 0)
            try forward(v, into: blocks, firstBlock: k)
            let scale = inverseTemperature
            let sums = probabilityStorage.withUnsafeBufferPointer { p in
                curvatureWeights.withUnsafeBufferPointer { a in
                    rowPass(width: c, partials: z + samples * 2 * k * c) { i, sums in
                        let pi = p.baseAddress! + i * c
                        var total = [T](repeating: 0, count: c)
                        if a[i] != 0 {
                            for j in 0..<k {
                                let (za, zb) = (blocks.row(j, i), blocks.row(k + j, i))
                                if hasBias {
                                    for m in 0..<c { za[m] += u.row(j)[cd + m]; zb[m] += v.row(j)[cd + m] }
                                }
                                var pa = T(0), pb = T(0)
                                for m in 0..<c { pa += pi[m] * za[m]; pb += pi[m] * zb[m] }
                                var pdotb = T(0)
                                for m in 0..<c {
                                    za[m] = pi[m] * (za[m] - pa)  // ṗ
                                    pdotb += za[m] * zb[m]
                                }
                                let w = a[i] * scale
                                for m in 0..<c { total[m] += w * (za[m] * (zb[m] - pb) - pi[m] * pdotb) }
                            }
                        }
                        blocks.row(0, i).update(from: total, count: c)
                        if let sums { for m in 0..<c { sums[m] += total[m] } }
                    }
                }
            }
            try backward(blocks, biasSums: sums,
                         into: MutableMatrixView(unchecked: y.baseAddress, rows: 1, columns: dimension, rowStride: dimension))
        }
    }
}
