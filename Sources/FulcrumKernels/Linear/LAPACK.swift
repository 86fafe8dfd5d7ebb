import CBLASShim

/// Thin, checked Swift wrappers over the LAPACK routines Fulcrum uses (through LAPACKE,
/// row-major). Inputs are validated first (`FulcrumError.shapeMismatch`), and a LAPACK
/// `info ≠ 0` becomes `FulcrumError.lapackFailure(routine:info:)`: negative info is an illegal
/// argument, positive info the routine's own failure (for `potrf`, the order of the leading minor
/// that is not positive definite; for the eigen and SVD drivers, a failure to converge).
public enum LAPACK {
    /// Cholesky factorisation A = L·Lᵀ of a symmetric positive-definite N×N matrix, in place:
    /// the lower triangle of `a` becomes L (the strict upper triangle is left as it was).
    /// Cost N³/3 flops.
    public static func choleskyFactor<T: FulcrumFloat>(_ a: MutableMatrixView<T>) throws {
        try checkSquare(a, argument: "a")
        guard a.rows > 0 else { return }
        let (n, lda) = (Int32(a.rows), Int32(a.rowStride))
        let info = T.self == Float.self
            ? LAPACKE_spotrf(Int32(LAPACK_ROW_MAJOR), lower, n, a.baseAddress.map(mutableFloats), lda)
            : LAPACKE_dpotrf(Int32(LAPACK_ROW_MAJOR), lower, n, a.baseAddress.map(mutableDoubles), lda)
        try check(info, "potrf")
    }

    /// Solves A·X = B in place of `b` (N×R) from the Cholesky factor L of A (the output of
    /// `choleskyFactor`). Cost 2·N²·R flops.
    public static func choleskySolve<T: FulcrumFloat>(factor l: MatrixView<T>, _ b: MutableMatrixView<T>) throws {
        try checkSquare(MutableMatrixView(unchecked: UnsafeMutablePointer(mutating: l.baseAddress), rows: l.rows, columns: l.columns, rowStride: l.rowStride), argument: "factor")
        guard b.rows == l.rows else {
            throw FulcrumError.shapeMismatch(argument: "b", expected: "\(l.rows) rows", actual: b.shape)
        }
        guard l.rows > 0, b.columns > 0 else { return }
        let (n, r) = (Int32(l.rows), Int32(b.columns))
        let a = UnsafeMutablePointer(mutating: l.baseAddress!)
        let info = T.self == Float.self
            ? LAPACKE_spotrs(Int32(LAPACK_ROW_MAJOR), lower, n, r, mutableFloats(a), Int32(l.rowStride), b.baseAddress.map(mutableFloats), Int32(b.rowStride))
            : LAPACKE_dpotrs(Int32(LAPACK_ROW_MAJOR), lower, n, r, mutableDoubles(a), Int32(l.rowStride), b.baseAddress.map(mutableDoubles), Int32(b.rowStride))
        try check(info, "potrs")
    }

    /// All eigenvalues (ascending, into `eigenvalues`) and, when `vectors` is true, the orthonormal
    /// eigenvectors (as the columns of `a`, overwriting it) of a symmetric N×N matrix, from its
    /// lower triangle, by divide and conquer (`syevd`). Cost O(N³).
    public static func symmetricEigen<T: FulcrumFloat>(
        _ a: MutableMatrixView<T>, eigenvalues: UnsafeMutableBufferPointer<T>, vectors: Bool = true
    ) throws {
        try checkSquare(a, argument: "a")
        try checkCount(eigenvalues.count, a.rows, argument: "eigenvalues")
        guard a.rows > 0 else { return }
        let job = vectors ? Int8(UInt8(ascii: "V")) : Int8(UInt8(ascii: "N"))
        let (n, lda) = (Int32(a.rows), Int32(a.rowStride))
        let info = T.self == Float.self
            ? LAPACKE_ssyevd(Int32(LAPACK_ROW_MAJOR), job, lower, n, a.baseAddress.map(mutableFloats), lda, eigenvalues.baseAddress.map(mutableFloats))
            : LAPACKE_dsyevd(Int32(LAPACK_ROW_MAJOR), job, lower, n, a.baseAddress.map(mutableDoubles), lda, eigenvalues.baseAddress.map(mutableDoubles))
        try check(info, "syevd")
    }

    /// Eigenvalues (ascending, overwriting `diagonal`) and optionally eigenvectors (the columns of
    /// `vectors`, N×N) of the symmetric tridiagonal matrix with `diagonal` (N) and
    /// `offDiagonal` (N − 1, destroyed), by the implicit QL/QR method (`stev`). Cost O(N²), O(N³)
    /// with vectors.
    public static func tridiagonalEigen<T: FulcrumFloat>(
        diagonal: UnsafeMutableBufferPointer<T>, offDiagonal: UnsafeMutableBufferPointer<T>,
        vectors: MutableMatrixView<T>? = nil
    ) throws {
        let n = diagonal.count
        try checkCount(offDiagonal.count, max(0, n - 1), argument: "offDiagonal")
        if let z = vectors, z.rows != n || z.columns != n {
            throw FulcrumError.shapeMismatch(argument: "vectors", expected: shapeDescription(n, n), actual: z.shape)
        }
        guard n > 0 else { return }
        let job = vectors == nil ? Int8(UInt8(ascii: "N")) : Int8(UInt8(ascii: "V"))
        // LAPACKE's row-major check wants ldz ≥ N even when no vectors are asked for.
        let ldz = Int32(max(1, vectors?.rowStride ?? n))
        var scratch = T(0)
        let info = withUnsafeMutablePointer(to: &scratch) { dummy -> Int32 in
            // LAPACKE reads e even for N = 1; give it a valid address.
            let e = offDiagonal.baseAddress ?? dummy
            let z = vectors?.baseAddress
            return T.self == Float.self
                ? LAPACKE_sstev(Int32(LAPACK_ROW_MAJOR), job, Int32(n), mutableFloats(diagonal.baseAddress!), mutableFloats(e), z.map(mutableFloats), ldz)
                : LAPACKE_dstev(Int32(LAPACK_ROW_MAJOR), job, Int32(n), mutableDoubles(diagonal.baseAddress!), mutableDoubles(e), z.map(mutableDoubles), ldz)
        }
        try check(info, "stev")
    }

    /// Singular values (descending, min(M, N) of them) of an M×N matrix by divide and conquer
    /// (`gesdd`, no singular vectors). `a` is destroyed. Cost O(M·N·min(M, N)).
    public static func singularValues<T: FulcrumFloat>(_ a: MutableMatrixView<T>, into values: UnsafeMutableBufferPointer<T>) throws {
        try checkCount(values.count, min(a.rows, a.columns), argument: "values")
        guard a.rows > 0, a.columns > 0 else { return }
        let job = Int8(UInt8(ascii: "N"))
        // No vectors are written; LAPACKE still checks ldu ≥ M and ldvt ≥ N.
        let (m, n, lda) = (Int32(a.rows), Int32(a.columns), Int32(a.rowStride))
        let info = T.self == Float.self
            ? LAPACKE_sgesdd(Int32(LAPACK_ROW_MAJOR), job, m, n, a.baseAddress.map(mutableFloats), lda, values.baseAddress.map(mutableFloats), nil, m, nil, n)
            : LAPACKE_dgesdd(Int32(LAPACK_ROW_MAJOR), job, m, n, a.baseAddress.map(mutableDoubles), lda, values.baseAddress.map(mutableDoubles), nil, m, nil, n)
        try check(info, "gesdd")
    }

    private static let lower = Int8(UInt8(ascii: "L"))

    private static func check(_ info: Int32, _ routine: String) throws {
        guard info == 0 else { throw FulcrumError.lapackFailure(routine: routine, info: Int(info)) }
    }

    private static func checkSquare<T>(_ a: MutableMatrixView<T>, argument: String) throws {
        guard a.rows == a.columns else {
            throw FulcrumError.shapeMismatch(argument: argument, expected: "square", actual: a.shape)
        }
    }
}
