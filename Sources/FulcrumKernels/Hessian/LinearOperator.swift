/// A matrix-free linear map y = A·x on vectors of `dimension` elements.
///
/// Everything in FulcrumCurvature (power iteration, Lanczos, Hutchinson traces, spectral
/// densities, Jacobian asymmetry) sees a matrix only through this protocol, so that a Hessian the
/// caller computes with their own autodiff plugs in as a `ClosureOperator`, the linear-head and MLP
/// Hessians of `FulcrumKernels` plug in directly, and tests use an explicit `SymmetricMatrixOperator`.
/// The eigenvalue routines assume the operator is symmetric (a Hessian is); the trace and
/// asymmetry estimators do not.
///
/// Vectors are contiguous buffers of `dimension` elements. A batch is a matrix whose **rows** are
/// the vectors: operators that can share work across directions (one GEMM for all of them)
/// implement `apply(_:into:)` on matrices; the default loops over the rows.
public protocol LinearOperator<Scalar> {
    /// The element type of the vectors.
    associatedtype Scalar: FulcrumFloat

    /// Length of the vectors the operator maps (the number of parameters, for a Hessian).
    var dimension: Int { get }

    /// y ← A·x for one vector; `x` and `y` hold `dimension` elements and must not overlap.
    func apply(_ x: UnsafeBufferPointer<Scalar>, into y: UnsafeMutableBufferPointer<Scalar>) throws

    /// Yᵢ ← A·Xᵢ for every row i of `x` (k × dimension) into the rows of `y` (k × dimension).
    func apply(_ x: MatrixView<Scalar>, into y: MutableMatrixView<Scalar>) throws
}

extension LinearOperator {
    /// Applies the operator row by row; operators with a faster batched form replace it.
    public func apply(_ x: MatrixView<Scalar>, into y: MutableMatrixView<Scalar>) throws {
        try checkBatch(x, y, dimension: dimension)
        for i in 0..<x.rows {
            try apply(UnsafeBufferPointer(start: x.row(i), count: dimension),
                      into: UnsafeMutableBufferPointer(start: y.row(i), count: dimension))
        }
    }
}

/// Checks that `x` and `y` are batches of `dimension`-vectors with the same count.
func checkBatch<T>(_ x: MatrixView<T>, _ y: MutableMatrixView<T>, dimension: Int) throws {
    guard x.columns == dimension else {
        throw FulcrumError.shapeMismatch(argument: "x", expected: "k x \(dimension)", actual: x.shape)
    }
    guard y.rows == x.rows, y.columns == dimension else {
        throw FulcrumError.shapeMismatch(argument: "y", expected: shapeDescription(x.rows, dimension), actual: y.shape)
    }
}

/// A linear operator given by a closure: plug your own Hessian-vector product (or any matrix-free
/// map) into FulcrumCurvature.
///
/// ```swift
/// let hessian = ClosureOperator<Double>(dimension: n) { v, hv in try myHVP(v, hv) }
/// let top = try PowerIteration.eigenpairs(of: hessian, count: 1, using: &generator)
/// ```
/// The closure receives `x` (dimension elements) and writes A·x into `y`; errors it throws pass
/// through unchanged.
public struct ClosureOperator<Scalar: FulcrumFloat>: LinearOperator {
    /// Length of the vectors.
    public let dimension: Int
    @usableFromInline let body: (UnsafeBufferPointer<Scalar>, UnsafeMutableBufferPointer<Scalar>) throws -> Void

    /// An operator on `dimension`-vectors that computes y = A·x with `body(x, y)`.
    ///
    /// - Throws: `FulcrumError.invalidParameter` when `dimension < 1`.
    public init(dimension: Int, _ body: @escaping (UnsafeBufferPointer<Scalar>, UnsafeMutableBufferPointer<Scalar>) throws -> Void) throws {
        guard dimension >= 1 else {
            throw FulcrumError.invalidParameter(argument: "dimension", value: "\(dimension)", requirement: ">= 1")
        }
        self.dimension = dimension
        self.body = body
    }

    /// y ← A·x by the closure.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` for buffers of the wrong length; the closure's errors.
    public func apply(_ x: UnsafeBufferPointer<Scalar>, into y: UnsafeMutableBufferPointer<Scalar>) throws {
        try checkCount(x.count, dimension, argument: "x")
        try checkCount(y.count, dimension, argument: "y")
        try body(x, y)
    }
}

/// An explicit symmetric N×N matrix as a linear operator: the reference the tests compare the
/// matrix-free algorithms with, and a convenience for small problems.
///
/// The matrix is copied; only its lower triangle is read (the upper is mirrored), so the operator
/// is exactly symmetric. y = A·x costs 2N² flops (BLAS `gemv`/`gemm`).
public struct SymmetricMatrixOperator<Scalar: FulcrumFloat>: LinearOperator {
    /// The matrix, row-major, symmetrised from the lower triangle of the input.
    public let matrix: Matrix<Scalar>
    /// N.
    public var dimension: Int { matrix.rows }

    /// The operator of the symmetric matrix whose lower triangle is that of `a`.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` when `a` is not square or is empty,
    ///   `FulcrumError.nonFiniteValue` for a NaN or infinity in the lower triangle.
    @specialized(where Scalar == Float)
    @specialized(where Scalar == Double)
    public init(_ a: MatrixView<Scalar>) throws {
        guard a.rows == a.columns, a.rows > 0 else {
            throw FulcrumError.shapeMismatch(argument: "a", expected: "non-empty square", actual: a.shape)
        }
        var m = try Matrix<Scalar>(rows: a.rows, columns: a.rows, repeating: 0)
        for i in 0..<a.rows {
            for j in 0...i {
                guard a[i, j].isFinite else { throw FulcrumError.nonFiniteValue(argument: "a", row: i, column: j) }
                m[i, j] = a[i, j]
                m[j, i] = a[i, j]
            }
        }
        matrix = m
    }

    /// y ← A·x (`gemv`).
    ///
    /// - Throws: `FulcrumError.shapeMismatch` for buffers of the wrong length.
    public func apply(_ x: UnsafeBufferPointer<Scalar>, into y: UnsafeMutableBufferPointer<Scalar>) throws {
        try checkCount(x.count, dimension, argument: "x")
        try checkCount(y.count, dimension, argument: "y")
        try matrix.withView { try BLAS.gemv($0, x, into: y) }
    }

    /// Yᵢ ← A·Xᵢ for every row (one `gemm`).
    ///
    /// - Throws: `FulcrumError.shapeMismatch` for batches of the wrong shape.
    public func apply(_ x: MatrixView<Scalar>, into y: MutableMatrixView<Scalar>) throws {
        try checkBatch(x, y, dimension: dimension)
        // Y = X·Aᵀ = X·A (A symmetric).
        try matrix.withView { try BLAS.gemm(x, $0, transposeB: true, into: y) }
    }
}
