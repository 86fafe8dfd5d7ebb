import Foundation
import FulcrumKernels

extension SplitMix64 {
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(next() >> 11) * 0x1p-53 }
    mutating func normal() -> Double {
        let u = max(uniform(0, 1), 1e-300), v = uniform(0, 1)
        return (-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// A random orthogonal n×n matrix (Gram–Schmidt of a Gaussian matrix), row-major.
func randomOrthogonal(_ n: Int, _ g: inout SplitMix64) -> [Double] {
    var q = (0..<(n * n)).map { _ in g.normal() }
    for i in 0..<n {
        for _ in 0..<2 {
            for j in 0..<i {
                var d = 0.0
                for k in 0..<n { d += q[i * n + k] * q[j * n + k] }
                for k in 0..<n { q[i * n + k] -= d * q[j * n + k] }
            }
        }
        var norm = 0.0
        for k in 0..<n { norm += q[i * n + k] * q[i * n + k] }
        norm = norm.squareRoot()
        for k in 0..<n { q[i * n + k] /= norm }
    }
    return q
}

/// A = Qᵀ·diag(λ)·Q for a random orthogonal Q: a symmetric matrix with spectrum `lambda`.
func symmetricMatrix(spectrum lambda: [Double], _ g: inout SplitMix64) -> Matrix<Double> {
    let n = lambda.count
    let q = randomOrthogonal(n, &g)
    var a = try! Matrix<Double>(rows: n, columns: n, repeating: 0)
    for i in 0..<n {
        for j in 0..<n {
            var s = 0.0
            for k in 0..<n { s += q[k * n + i] * lambda[k] * q[k * n + j] }
            a[i, j] = s
        }
    }
    // Exactly symmetric.
    for i in 0..<n { for j in 0..<i { a[j, i] = a[i, j] } }
    return a
}

/// Eigenvalues of a symmetric matrix, ascending, by LAPACK syevd (the reference).
func referenceEigenvalues(_ a: Matrix<Double>) -> [Double] {
    var copy = a
    var values = [Double](repeating: 0, count: a.rows)
    try! copy.withMutableView { m in
        try values.withUnsafeMutableBufferPointer { try LAPACK.symmetricEigen(m, eigenvalues: $0, vectors: false) }
    }
    return values
}

/// y = A·x in Double, plainly.
func multiply(_ a: Matrix<Double>, _ x: [Double]) -> [Double] {
    (0..<a.rows).map { i in (0..<a.columns).reduce(0.0) { $0 + a[i, $1] * x[$1] } }
}

func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }
