import Foundation
import Testing
@testable import FulcrumKernels

@Suite("BLAS and LAPACK wrappers")
struct LinearAlgebraTests {
    @Test("gemm matches a plain triple loop for every transpose and a padded row stride",
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(transposes: (Bool, Bool)) throws {
        let (m, n, k) = (7, 5, 9)
        var random = TestRandom(seed: 8)
        let (ta, tb) = transposes
        let (aRows, aCols) = ta ? (k, m) : (m, k)
        let (bRows, bCols) = tb ? (n, k) : (k, n)
        let a: [Double] = random.values(aRows * aCols, -1, 1), b: [Double] = random.values(bRows * bCols, -1, 1)
        var c = [Double](repeating: 1, count: m * 8)  // row stride 8 > n
        try a.withView(rows: aRows, columns: aCols) { av in
            try b.withView(rows: bRows, columns: bCols) { bv in
                try c.withUnsafeMutableBufferPointer {
                    try BLAS.gemm(av, transposeA: ta, bv, transposeB: tb,
                                  into: MutableMatrixView($0, rows: m, columns: n, rowStride: 8), alpha: 2, beta: 0.5)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += (ta ? a[p * aCols + i] : a[i * aCols + p]) * (tb ? b[j * bCols + p] : b[p * bCols + j]) }
                #expect(abs(c[i * 8 + j] - (2 * s + 0.5)) <= 1e-12)
            }
            #expect(c[i * 8 + n..<i * 8 + 8].allSatisfy { $0 == 1 })  // padding untouched
        }
    }

    @Test("gemm and gemv name the mismatched argument")
    func shapeErrors() {
        let a = [Float](repeating: 1, count: 6)
        var c = [Float](repeating: 0, count: 6)
        #expect(throws: FulcrumError.shapeMismatch(argument: "b", expected: "3 rows in op(b)", actual: "2")) {
            try a.withView(rows: 2, columns: 3) { av in
                try a.withView(rows: 2, columns: 3) { bv in try c.withMutableView(rows: 2, columns: 3) { try BLAS.gemm(av, bv, into: $0) } }
            }
        }
        var y = [Float](repeating: 0, count: 3)
        #expect(throws: FulcrumError.shapeMismatch(argument: "y", expected: "2", actual: "3")) {
            try a.withView(rows: 2, columns: 3) { av in
                try a.withUnsafeBufferPointer { x in
                    try y.withUnsafeMutableBufferPointer { try BLAS.gemv(av, UnsafeBufferPointer(rebasing: x[0..<3]), into: $0) }
                }
            }
        }
    }

    /// A random symmetric positive-definite n×n matrix B·Bᵀ + n·I.
    static func spd(_ n: Int, seed: UInt64) -> [Double] {
        var random = TestRandom(seed: seed)
        let b: [Double] = random.values(n * n, -1, 1)
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for p in 0..<n { a[i * n + j] += b[i * n + p] * b[j * n + p] } }; a[i * n + i] += Double(n) }
        return a
    }

    @Test("Cholesky factor and solve reproduce A·x = b; a non-positive-definite matrix is a LAPACK failure")
    func cholesky() throws {
        let n = 6
        let a = Self.spd(n, seed: 3)
        var l = a
        try l.withMutableView(rows: n, columns: n) { try LAPACK.choleskyFactor($0) }
        var x = (0..<n).map { Double($0) - 2.5 }
        let rhs = x
        try l.withView(rows: n, columns: n) { lv in try x.withMutableView(rows: n, columns: 1) { try LAPACK.choleskySolve(factor: lv, $0) } }
        for i in 0..<n {
            let ax = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * x[$1] }
            #expect(abs(ax - rhs[i]) <= 1e-12)
        }
        var bad: [Double] = [1, 2, 2, 1]  // eigenvalues 3 and −1
        #expect(throws: FulcrumError.lapackFailure(routine: "potrf", info: 2)) {
            try bad.withMutableView(rows: 2, columns: 2) { try LAPACK.choleskyFactor($0) }
        }
    }

    @Test("Symmetric and tridiagonal eigensolvers agree and satisfy A·v = λ·v")
    func eigen() throws {
        let n = 7
        var random = TestRandom(seed: 4)
        let d: [Double] = random.values(n, -2, 2), e: [Double] = random.values(n - 1, -1, 1)
        var dense = [Double](repeating: 0, count: n * n)
        for i in 0..<n { dense[i * n + i] = d[i]; if i + 1 < n { dense[i * n + i + 1] = e[i]; dense[(i + 1) * n + i] = e[i] } }
        let original = dense
        var values = [Double](repeating: 0, count: n)
        try dense.withMutableView(rows: n, columns: n) { v in
            try values.withUnsafeMutableBufferPointer { try LAPACK.symmetricEigen(v, eigenvalues: $0) }
        }
        for k in 0..<n {
            for i in 0..<n {
                let av = (0..<n).reduce(0.0) { $0 + original[i * n + $1] * dense[$1 * n + k] }
                #expect(abs(av - values[k] * dense[i * n + k]) <= 1e-12)
            }
        }
        var diagonal = d, off = e
        try diagonal.withUnsafeMutableBufferPointer { dp in try off.withUnsafeMutableBufferPointer { try LAPACK.tridiagonalEigen(diagonal: dp, offDiagonal: $0) } }
        for k in 0..<n { #expect(abs(diagonal[k] - values[k]) <= 1e-12) }
    }

    @Test("Singular values are the square roots of the eigenvalues of AᵀA")
    func singularValues() throws {
        let (m, n) = (6, 4)
        var random = TestRandom(seed: 5)
        var a: [Double] = random.values(m * n, -1, 1)
        var ata = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for p in 0..<m { ata[i * n + j] += a[p * n + i] * a[p * n + j] } } }
        var eigen = [Double](repeating: 0, count: n), sigma = [Double](repeating: 0, count: n)
        try ata.withMutableView(rows: n, columns: n) { v in try eigen.withUnsafeMutableBufferPointer { try LAPACK.symmetricEigen(v, eigenvalues: $0, vectors: false) } }
        try a.withMutableView(rows: m, columns: n) { v in try sigma.withUnsafeMutableBufferPointer { try LAPACK.singularValues(v, into: $0) } }
        for k in 0..<n { #expect(abs(sigma[k] * sigma[k] - eigen[n - 1 - k]) <= 1e-12) }
    }
}

@Suite("Threads and matrix views")
struct ThreadsAndViewsTests {
    @Test("forEachBlock visits every index once, in blocks that depend only on the size")
    func blocks() {
        let count = 1003, blockSize = 64
        let visits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        visits.initialize(repeating: 0)
        defer { visits.deallocate() }
        let blockOf = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        defer { blockOf.deallocate() }
        let shared = UncheckedSendable((visits, blockOf))
        Threads.forEachBlock(count: count, blockSize: blockSize) { block, range in
            for i in range { shared.value.0[i] += 1; shared.value.1[i] = block }
        }
        #expect(visits.allSatisfy { $0 == 1 })
        #expect((0..<count).allSatisfy { blockOf[$0] == $0 / blockSize })
    }

    @Test("Bad thread counts and layouts are named")
    func badInput() {
        #expect(throws: FulcrumError.invalidParameter(argument: "count", value: "0", requirement: ">= 1")) { try Threads.setCount(0) }
        let data = [Float](repeating: 0, count: 10)
        #expect(throws: FulcrumError.self) { try data.withUnsafeBufferPointer { try MatrixView($0, rows: 3, columns: 4, rowStride: 3) } }
        #expect(throws: FulcrumError.self) { try data.withUnsafeBufferPointer { try MatrixView($0, rows: -1, columns: 4) } }
        #expect(throws: FulcrumError.self) { try Matrix<Float>(rows: 2, columns: 3, elements: [1, 2]) }
        let view = try? data.withUnsafeBufferPointer { try MatrixView($0, rows: 3, columns: 3, rowStride: 4) }  // needs 11
        #expect(view == nil)
        let fits = try? data.withUnsafeBufferPointer { try MatrixView($0, rows: 3, columns: 2, rowStride: 4) }  // needs 10
        #expect(fits?.rows == 3)
    }
}

@Suite("Seeded random numbers")
struct SplitMix64Tests {
    @Test("SplitMix64 reproduces the published sequence for seed 0")
    func referenceSequence() {
        var generator = SplitMix64(seed: 0)
        // The first two outputs of Vigna's reference splitmix64.c for state 0.
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}
