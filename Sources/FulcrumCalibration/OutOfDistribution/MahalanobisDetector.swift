import FulcrumKernels

/// The Mahalanobis out-of-distribution detector of "A Simple Unified Framework for Detecting
/// Out-of-Distribution Samples and Adversarial Attacks": class-conditional Gaussians with one
/// tied covariance fitted on a layer's features, and the confidence score
///
///     M(x) = max_c −(x − μ_c)ᵀ Σ⁻¹ (x − μ_c)
///
/// (the paper's Eq. 2): large (near 0) for in-distribution samples, very negative for
/// out-of-distribution ones. The predicted class is the arg-max.
///
/// **Fit** (Double throughout): μ_c = class means; Σ = (1/N)·Σᵢ (xᵢ − μ_{yᵢ})(xᵢ − μ_{yᵢ})ᵀ by one
/// GEMM; Cholesky Σ = L·Lᵀ (`LAPACK.choleskyFactor`). When Σ is not positive definite (fewer
/// samples than features, constant or collinear features) the fit adds the ridge ε·I with
/// ε = max(0, −λ_min(Σ)) + δ, δ starting at 10⁻¹⁰·max(tr Σ/d, 10⁻³⁰⁰) and doubling until the
/// factorisation succeeds: the smallest ridge (to within that δ) that makes Σ + ε·I positive
/// definite. ε is reported in `ridge` (0 when none was needed). Then the whitening matrix
/// W = L⁻¹ (forward substitution) and the whitened means m_c = W·μ_c.
///
/// **Score**: z = W·x once per sample (one GEMM over a block of rows), then
/// ‖z − m_c‖² = ‖z‖² − 2·zᵀm_c + ‖m_c‖² for all classes by a second GEMM: no per-class solve.
/// Scoring runs in Float (GEMMs in `BLAS.gemm`); the relative error of a distance is about
/// 10⁻⁶·cond(L)·(‖z‖² + ‖m_c‖²)/‖z − m_c‖², fine for ranking samples by M(x).
public struct MahalanobisDetector: Sendable {
    /// Number of classes C.
    public let classCount: Int
    /// Feature dimension d.
    public let featureCount: Int
    /// Class means, row-major C×d.
    public let means: [Double]
    /// The tied covariance Σ (without the ridge), row-major d×d.
    public let covariance: [Double]
    /// The ε added to Σ's diagonal to make it positive definite (0 when it was).
    public let ridge: Double
    /// W = L⁻¹ (row-major d×d, lower triangular) and the whitened means W·μ_c (C×d), in Float for
    /// scoring; ‖W·μ_c‖² per class.
    let whitening: [Float]
    let whitenedMeans: [Float]
    let whitenedMeanNorms: [Float]

    /// Fits the detector on `features` (n×d) with `labels` (n, in `0..<classCount`).
    /// Cost O(n·d² + d³) (the covariance GEMM dominates).
    ///
    /// - Throws: `invalidParameter` naming `classCount` < 1 or above n (every class needs a
    ///   sample); `shapeMismatch` naming `labels`; `indexOutOfRange` naming `labels`;
    ///   `nonFiniteValue` naming `features`;
    ///   `emptyReduction` naming `labels` when a class has no sample (its mean is undefined);
    ///   `invalidParameter` naming `features` when they (almost) do not vary within their classes,
    ///   so that the whitening overflows Float (a zero covariance has no Mahalanobis distance).
    public init(features: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, classCount: Int) throws {
        guard classCount >= 1 else {
            throw FulcrumError.invalidParameter(argument: "classCount", value: "\(classCount)", requirement: ">= 1")
        }
        let (n, d) = (features.rows, features.columns)
        try checkLength(labels.count, n, argument: "labels")
        try checkLabels(labels, classCount: classCount)
        try checkFinite(features, argument: "features")
        guard d >= 1 else { throw FulcrumError.shapeMismatch(argument: "features", expected: "at least 1 column", actual: features.shape) }
        guard classCount <= n else {
            throw FulcrumError.invalidParameter(argument: "classCount", value: "\(classCount)", requirement: "<= \(n), the sample count (every class needs a sample)")
        }
        // Class means.
        var means = [Double](repeating: 0, count: classCount * d)
        var counts = [Int](repeating: 0, count: classCount)
        for i in 0..<n {
            let c = Int(labels[i])
            counts[c] += 1
            let row = features.row(i)
            for j in 0..<d { means[c * d + j] += Double(row[j]) }
        }
        if let empty = counts.firstIndex(of: 0) {
            throw FulcrumError.emptyReduction(argument: "labels", reason: "class \(empty) has no sample: its mean is undefined")
        }
        for c in 0..<classCount { for j in 0..<d { means[c * d + j] /= Double(counts[c]) } }
        // Tied covariance: (1/N)·XcᵀXc with Xc the class-centred features.
        var centred = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            let (row, c) = (features.row(i), Int(labels[i]))
            for j in 0..<d { centred[i * d + j] = Double(row[j]) - means[c * d + j] }
        }
        var covariance = [Double](repeating: 0, count: d * d)
        try centred.withUnsafeBufferPointer { x in
            try covariance.withUnsafeMutableBufferPointer { s in
                let xv = MatrixView(unchecked: x.baseAddress, rows: n, columns: d, rowStride: d)
                try BLAS.gemm(xv, transposeA: true, xv, into: MutableMatrixView(unchecked: s.baseAddress, rows: d, columns: d, rowStride: d),
                              alpha: 1 / Double(n))
            }
        }
        let (factor, ridge) = try Self.regularisedCholesky(covariance, d)
        let w = Self.lowerTriangularInverse(factor, d)
        // Whitened means W·μ_c: (C×d)·Wᵀ.
        var whitenedMeans = [Double](repeating: 0, count: classCount * d)
        try means.withUnsafeBufferPointer { mu in
            try w.withUnsafeBufferPointer { wb in
                try whitenedMeans.withUnsafeMutableBufferPointer { out in
                    try BLAS.gemm(MatrixView(unchecked: mu.baseAddress, rows: classCount, columns: d, rowStride: d), transposeA: false,
                                  MatrixView(unchecked: wb.baseAddress, rows: d, columns: d, rowStride: d), transposeB: true,
                                  into: MutableMatrixView(unchecked: out.baseAddress, rows: classCount, columns: d, rowStride: d))
                }
            }
        }
        let whitening = w.map { Float($0) }, whitenedMeansFloat = whitenedMeans.map { Float($0) }
        let whitenedMeanNorms = (0..<classCount).map { c in
            Float((0..<d).reduce(0.0) { $0 + whitenedMeans[c * d + $1] * whitenedMeans[c * d + $1] })
        }
        // A (near-)zero within-class covariance (every sample at its class mean, or variations
        // far below the features' scale) has a whitening beyond Float: its scores would be ±∞/NaN.
        guard whitening.allSatisfy(\.isFinite), whitenedMeanNorms.allSatisfy(\.isFinite) else {
            let trace = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] }
            throw FulcrumError.invalidParameter(
                argument: "features", value: "within-class covariance of trace \(trace)",
                requirement: "features that vary within their classes, so that the whitening Σ^(-1/2) fits in Float")
        }
        self.classCount = classCount
        self.featureCount = d
        self.means = means
        self.covariance = covariance
        self.ridge = ridge
        self.whitening = whitening
        self.whitenedMeans = whitenedMeansFloat
        self.whitenedMeanNorms = whitenedMeanNorms
    }

    /// Writes M(x) for each row of `features` (n×d) into `scores` (n) and, when given, the
    /// arg-max class into `predictedClasses` (n). Rows are processed in blocks of 2048 (two GEMMs
    /// per block from the calling thread, then a parallel per-row reduction). O(n·d·(d + C)).
    /// A sample so far out that ‖W·x‖² overflows Float scores −∞.
    ///
    /// - Throws: `shapeMismatch` naming `features`, `scores` or `predictedClasses`;
    ///   `nonFiniteValue` naming `features`.
    public func scores(
        _ features: MatrixView<Float>, into scores: UnsafeMutableBufferPointer<Float>,
        predictedClasses: UnsafeMutableBufferPointer<Int32>? = nil
    ) throws {
        let (n, d, c) = (features.rows, featureCount, classCount)
        guard features.columns == d else {
            throw FulcrumError.shapeMismatch(argument: "features", expected: "\(d) columns", actual: features.shape)
        }
        try checkLength(scores.count, n, argument: "scores")
        if let predictedClasses { try checkLength(predictedClasses.count, n, argument: "predictedClasses") }
        try checkFinite(features, argument: "features")
        let blockRows = 2048
        var z = [Float](repeating: 0, count: min(n, blockRows) * d)
        var cross = [Float](repeating: 0, count: min(n, blockRows) * c)
        try whitening.withUnsafeBufferPointer { w in
            try whitenedMeans.withUnsafeBufferPointer { m in
                try z.withUnsafeMutableBufferPointer { z in
                    try cross.withUnsafeMutableBufferPointer { cross in
                        var start = 0
                        while start < n {
                            let rows = min(blockRows, n - start)
                            let zv = MutableMatrixView(unchecked: z.baseAddress, rows: rows, columns: d, rowStride: d)
                            let cv = MutableMatrixView(unchecked: cross.baseAddress, rows: rows, columns: c, rowStride: c)
                            try BLAS.gemm(features.rows(start..<(start + rows)), MatrixView(unchecked: w.baseAddress, rows: d, columns: d, rowStride: d),
                                          transposeB: true, into: zv)
                            try BLAS.gemm(MatrixView(zv), MatrixView(unchecked: m.baseAddress, rows: c, columns: d, rowStride: d),
                                          transposeB: true, into: cv)
                            reduceBlock(z: MatrixView(zv), cross: MatrixView(cv), offset: start, scores: scores, predicted: predictedClasses)
                            start += rows
                        }
                    }
                }
            }
        }
    }

    /// Per row: max over classes of −(‖z‖² − 2·cross + ‖m_c‖²), and its arg-max.
    private func reduceBlock(z: MatrixView<Float>, cross: MatrixView<Float>, offset: Int,
                             scores: UnsafeMutableBufferPointer<Float>, predicted: UnsafeMutableBufferPointer<Int32>?) {
        let (d, c) = (featureCount, classCount)
        whitenedMeanNorms.withUnsafeBufferPointer { norms in
            Threads.forEachBlock(count: z.rows, blockSize: 256) { _, range in
                for i in range {
                    let zi = z.row(i)
                    var zz: Float = 0
                    for j in 0..<d { zz += zi[j] * zi[j] }
                    let ci = cross.row(i)
                    var (best, bestClass) = (-Float.infinity, 0)
                    for k in 0..<c {
                        // ‖z‖² = ∞ (a sample far beyond Float) gives ∞ − ∞: infinitely far, not 0.
                        let expanded = zz - 2 * ci[k] + norms[k]
                        let distance = expanded.isNaN ? .infinity : max(0, expanded)
                        if -distance > best { (best, bestClass) = (-distance, k) }
                    }
                    scores[offset + i] = best
                    predicted?[offset + i] = Int32(bestClass)
                }
            }
        }
    }

    /// Cholesky factor of Σ (+ ε·I when needed) and ε.
    static func regularisedCholesky(_ covariance: [Double], _ d: Int) throws -> ([Double], Double) {
        func factor(_ ridge: Double) throws -> [Double]? {
            var a = covariance
            for j in 0..<d { a[j * d + j] += ridge }
            do {
                try a.withUnsafeMutableBufferPointer {
                    try LAPACK.choleskyFactor(MutableMatrixView(unchecked: $0.baseAddress, rows: d, columns: d, rowStride: d))
                }
            } catch FulcrumError.lapackFailure(_, let info) where info > 0 {
                return nil
            }
            for i in 0..<d { for j in (i + 1)..<d { a[i * d + j] = 0 } }
            return a
        }
        if let l = try factor(0) { return (l, 0) }
        var eigen = covariance
        var values = [Double](repeating: 0, count: d)
        try eigen.withUnsafeMutableBufferPointer { a in
            try values.withUnsafeMutableBufferPointer {
                try LAPACK.symmetricEigen(MutableMatrixView(unchecked: a.baseAddress, rows: d, columns: d, rowStride: d), eigenvalues: $0, vectors: false)
            }
        }
        let trace = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] }
        var delta = 1e-10 * max(trace / Double(d), 1e-300)
        while true {
            let ridge = max(0, -values[0]) + delta
            if let l = try factor(ridge) { return (l, ridge) }
            delta *= 2
        }
    }

    /// L⁻¹ of a lower-triangular L (row-major d×d) by forward substitution, row by row:
    /// row i of W is (eᵢ − Σ_{k<i} L_ik·(row k of W)) / L_ii, contiguous row updates. d³/6 FMAs.
    static func lowerTriangularInverse(_ l: [Double], _ d: Int) -> [Double] {
        var w = [Double](repeating: 0, count: d * d)
        w.withUnsafeMutableBufferPointer { w in
            for i in 0..<d {
                let row = w.baseAddress! + i * d
                row[i] = 1
                for k in 0..<i {
                    let a = l[i * d + k]
                    guard a != 0 else { continue }
                    let other = w.baseAddress! + k * d
                    for j in 0...k { row[j] -= a * other[j] }
                }
                let scale = 1 / l[i * d + i]
                for j in 0...i { row[j] *= scale }
            }
        }
        return w
    }
}

/// Checks that every element of a Float matrix is finite.
func checkFinite(_ x: MatrixView<Float>, argument: String) throws {
    for i in 0..<x.rows {
        let row = x.row(i)
        for j in 0..<x.columns where !row[j].isFinite {
            throw FulcrumError.nonFiniteValue(argument: argument, row: i, column: j)
        }
    }
}
