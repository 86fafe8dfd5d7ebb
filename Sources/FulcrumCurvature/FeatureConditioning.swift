import FulcrumKernels

/// Singular values and the condition number of a feature matrix, the quantity "Understanding the
/// Role of Optimization in Double Descent" relates to the test-error peak: near the interpolation
/// threshold the smallest singular value of the features collapses and κ explodes.
public enum FeatureConditioning {
    /// The min(N, D) singular values of `features` (N×D), descending, by LAPACK `gesdd` on a
    /// copy (the input is not modified). Cost O(N·D·min(N, D)).
    ///
    /// - Throws: `FulcrumError.emptyReduction` for an empty matrix, `nonFiniteValue`,
    ///   `lapackFailure` when `gesdd` does not converge.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func singularValues<T: FulcrumFloat>(of features: MatrixView<T>) throws -> [T] {
        guard features.rows > 0, features.columns > 0 else {
            throw FulcrumError.emptyReduction(argument: "features", reason: "shape \(features.shape)")
        }
        var copy = try Matrix<T>(rows: features.rows, columns: features.columns, repeating: 0)
        try copy.withMutableView { c in
            for i in 0..<features.rows {
                try checkFinite(features.row(i), count: features.columns, argument: "features", row: i)
                c.row(i).update(from: features.row(i), count: features.columns)
            }
        }
        var values = [T](repeating: 0, count: min(features.rows, features.columns))
        try copy.withMutableView { c in
            try values.withUnsafeMutableBufferPointer { try LAPACK.singularValues(c, into: $0) }
        }
        return values
    }

    /// κ = σ_max / σ_min over the min(N, D) singular values, and 1 for a matrix of orthonormal
    /// rows or columns. +∞ when the matrix is numerically rank deficient: σ_min ≤ σ_max·max(N, D)·ε
    /// (the rank tolerance of LAPACK and NumPy's `matrix_rank`), below which σ_min is rounding
    /// noise of the SVD, whose value differs between BLAS builds, rather than a property of the
    /// features.
    ///
    /// - Throws: as `singularValues(of:)`, and `emptyReduction` for the zero matrix (0/0).
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func conditionNumber<T: FulcrumFloat>(of features: MatrixView<T>) throws -> T {
        let sigma = try singularValues(of: features)
        guard let largest = sigma.first, largest > 0 else {
            throw FulcrumError.emptyReduction(argument: "features", reason: "the zero matrix has no condition number")
        }
        let smallest = sigma.last!
        let tolerance = largest * T(max(features.rows, features.columns)) * T.ulpOfOne
        return smallest <= tolerance ? .infinity : largest / smallest
    }
}
