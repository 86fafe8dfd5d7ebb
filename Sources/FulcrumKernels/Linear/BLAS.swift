import CBLASShim

/// Thin, checked Swift wrappers over the OpenBLAS routines Fulcrum's kernels use.
///
/// Every wrapper validates shapes and throws `FulcrumError.shapeMismatch` naming the argument
/// instead of letting BLAS print to stderr and return garbage. Matrices are row-major views with
/// any row stride. BLAS uses `Threads.count` threads; call these from the calling thread, never
/// from inside a `Threads.forEachBlock` body.
public enum BLAS {
    /// C ← α·op(A)·op(B) + β·C, with op(X) = X or Xᵀ.
    ///
    /// Shapes: op(A) is M×K, op(B) is K×N, C is M×N. Cost 2·M·N·K flops.
    /// - Throws: `FulcrumError.shapeMismatch` naming `b` or `c` when the shapes disagree.
    public static func gemm<T: FulcrumFloat>(
        _ a: MatrixView<T>, transposeA: Bool = false,
        _ b: MatrixView<T>, transposeB: Bool = false,
        into c: MutableMatrixView<T>, alpha: T = 1, beta: T = 0
    ) throws {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        guard kb == k else {
            throw FulcrumError.shapeMismatch(argument: "b", expected: "\(k) rows in op(b)", actual: "\(kb)")
        }
        guard c.rows == m, c.columns == n else {
            throw FulcrumError.shapeMismatch(argument: "c", expected: shapeDescription(m, n), actual: c.shape)
        }
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // BLAS leaves β·C; scale explicitly so that β = 0 clears NaNs as documented.
            for i in 0..<m { for j in 0..<n { c[i, j] = beta == 0 ? 0 : beta * c[i, j] } }
            return
        }
        let ta = transposeA ? CblasTrans : CblasNoTrans
        let tb = transposeB ? CblasTrans : CblasNoTrans
        let (lda, ldb, ldc) = (Int32(max(1, a.rowStride)), Int32(max(1, b.rowStride)), Int32(max(1, c.rowStride)))
        if T.self == Float.self {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Float(alpha),
                        a.baseAddress.map(floats), lda, b.baseAddress.map(floats), ldb, Float(beta),
                        c.baseAddress.map(mutableFloats), ldc)
        } else {
            cblas_dgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Double(alpha),
                        a.baseAddress.map(doubles), lda, b.baseAddress.map(doubles), ldb, Double(beta),
                        c.baseAddress.map(mutableDoubles), ldc)
        }
    }

    /// y ← α·op(A)·x + β·y.
    ///
    /// Shapes: op(A) is M×N, x has N elements (stride 1), y has M. Cost 2·M·N flops.
    /// - Throws: `FulcrumError.shapeMismatch` naming `x` or `y`.
    public static func gemv<T: FulcrumFloat>(
        _ a: MatrixView<T>, transpose: Bool = false,
        _ x: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>,
        alpha: T = 1, beta: T = 0
    ) throws {
        let (m, n) = transpose ? (a.columns, a.rows) : (a.rows, a.columns)
        try checkCount(x.count, n, argument: "x")
        try checkCount(y.count, m, argument: "y")
        guard m > 0 else { return }
        guard n > 0 else {
            for i in 0..<m { y[i] = beta == 0 ? 0 : beta * y[i] }
            return
        }
        let t = transpose ? CblasTrans : CblasNoTrans
        let lda = Int32(max(1, a.rowStride))
        if T.self == Float.self {
            cblas_sgemv(CblasRowMajor, t, Int32(a.rows), Int32(a.columns), Float(alpha), a.baseAddress.map(floats), lda,
                        x.baseAddress.map(floats), 1, Float(beta), y.baseAddress.map(mutableFloats), 1)
        } else {
            cblas_dgemv(CblasRowMajor, t, Int32(a.rows), Int32(a.columns), Double(alpha), a.baseAddress.map(doubles), lda,
                        x.baseAddress.map(doubles), 1, Double(beta), y.baseAddress.map(mutableDoubles), 1)
        }
    }
}

// Reinterpretations used after a `T.self == Float.self` (or Double) check; the optimizer folds
// them away in specialised code.
@usableFromInline func floats<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
@usableFromInline func doubles<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Double> { UnsafeRawPointer(p).assumingMemoryBound(to: Double.self) }
@usableFromInline func mutableFloats<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
@usableFromInline func mutableDoubles<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Double> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self) }
