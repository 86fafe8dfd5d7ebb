import Testing
import FulcrumKernels
@testable import FulcrumCurvature

/// A PSD spectrum with a clear gap at the top: 10, 7, 5, then values in [0, 2).
func gappedSpectrum(_ n: Int, _ g: inout SplitMix64) -> [Double] {
    [10, 7, 5] + (3..<n).map { _ in g.uniform(0, 2) }
}

/// diag(top, 1, …, 1) in Float, n = 64: with top = 1e21 its products are finite but their squared
/// norm, accumulated in Float, overflows.
func floatDiagonal(top: Float) throws -> ClosureOperator<Float> {
    try ClosureOperator<Float>(dimension: 64) { x, y in for i in 0..<64 { y[i] = i == 0 ? top * x[i] : x[i] } }
}

/// The error of a vector whose squared norm overflows Float.
func overflowingNorm(_ argument: String, row: Int? = nil) -> FulcrumError {
    .invalidParameter(argument: argument, value: row.map { "row \($0)" } ?? "a vector",
                      requirement: "elements small enough that its squared norm fits in Float")
}

@Suite struct PowerIterationTests {
    @Test func topThreeMatchLAPACK() throws {
        var g = SplitMix64(seed: 1)
        let a = symmetricMatrix(spectrum: gappedSpectrum(40, &g), &g)
        let reference = referenceEigenvalues(a).reversed().prefix(3)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let pairs = try PowerIteration.eigenpairs(of: op, count: 3, maxIterations: 500, tolerance: 1e-12, using: &g)
        for (value, expected) in zip(pairs.values, reference) {
            #expect(relativeError(value, expected) < 1e-9)
        }
        #expect(pairs.converged.allSatisfy { $0 })
        // Each vector satisfies A·v ≈ λ·v and has unit length.
        for i in 0..<3 {
            let v = Array(pairs.vectors.storage[(i * 40)..<((i + 1) * 40)])
            let av = multiply(a, v)
            let residual = zip(av, v).map { ($0 - pairs.values[i] * $1) * ($0 - pairs.values[i] * $1) }.reduce(0, +).squareRoot()
            #expect(residual < 1e-4)
            #expect(abs(v.map { $0 * $0 }.reduce(0, +) - 1) < 1e-12)
            #expect(abs(residual - pairs.residualNorms[i]) < 1e-6)
        }
    }

    @Test func dominantMagnitudeForIndefiniteMatrix() throws {
        var g = SplitMix64(seed: 2)
        let a = symmetricMatrix(spectrum: [-9, 4, 1, 0.5, -0.5, 0.2], &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let pairs = try PowerIteration.eigenpairs(of: op, count: 2, maxIterations: 2000, tolerance: 1e-13, using: &g)
        #expect(abs(pairs.values[0] + 9) < 1e-9)
        #expect(abs(pairs.values[1] - 4) < 1e-9)
    }

    @Test func warmStartConvergesFaster() throws {
        var g = SplitMix64(seed: 3)
        let a = symmetricMatrix(spectrum: [5, 4.5] + (2..<30).map { _ in g.uniform(0, 1) }, &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let cold = try PowerIteration.eigenpairs(of: op, count: 1, maxIterations: 1000, tolerance: 1e-10, using: &g)
        let warm = try cold.vectors.withView {
            try PowerIteration.eigenpairs(of: op, count: 1, maxIterations: 1000, tolerance: 1e-10, warmStart: $0, using: &g)
        }
        #expect(cold.iterations[0] > 20)
        #expect(warm.iterations[0] <= 3)
        #expect(abs(warm.values[0] - 5) < 1e-8)
    }

    @Test func badInputThrows() throws {
        var g = SplitMix64(seed: 4)
        let a = symmetricMatrix(spectrum: [3, 2, 1], &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        #expect(throws: FulcrumError.self) { try PowerIteration.eigenpairs(of: op, count: 0, using: &g) }
        #expect(throws: FulcrumError.self) { try PowerIteration.eigenpairs(of: op, count: 4, using: &g) }
        #expect(throws: FulcrumError.self) { try PowerIteration.eigenpairs(of: op, count: 1, maxIterations: 0, using: &g) }
        let zero = try Matrix<Double>(rows: 1, columns: 3, repeating: 0)
        #expect(throws: FulcrumError.invalidParameter(argument: "warmStart", value: "row 0 of length 0", requirement: "non-zero")) {
            try zero.withView { try PowerIteration.eigenpairs(of: op, count: 1, warmStart: $0, using: &g) }
        }
        let nan = try Matrix<Double>(rows: 1, columns: 3, elements: [1, .nan, 0])
        #expect(throws: FulcrumError.nonFiniteValue(argument: "warmStart", row: 0, column: 1)) {
            try nan.withView { try PowerIteration.eigenpairs(of: op, count: 1, warmStart: $0, using: &g) }
        }
        let wide = try Matrix<Double>(rows: 1, columns: 4, repeating: 1)
        #expect(throws: FulcrumError.self) { try wide.withView { try PowerIteration.eigenpairs(of: op, count: 1, warmStart: $0, using: &g) } }
        let poisoned = try ClosureOperator<Double>(dimension: 3) { _, y in for i in 0..<3 { y[i] = i == 2 ? .infinity : 1 } }
        #expect(throws: FulcrumError.nonFiniteValue(argument: "operator", row: 0, column: 2)) {
            try PowerIteration.eigenpairs(of: poisoned, count: 1, using: &g)
        }
        #expect(throws: FulcrumError.self) { try ClosureOperator<Double>(dimension: 0) { _, _ in } }
    }

    @Test func overflowingNormThrows() throws {
        var g = SplitMix64(seed: 14)
        // ‖A·v‖² overflowed Float: the iterate was scaled by 1/∞ to zero and reported converged to 0.
        #expect(throws: overflowingNorm("operator")) { try PowerIteration.eigenpairs(of: floatDiagonal(top: 1e21), count: 1, using: &g) }
        let start = try Matrix<Float>(rows: 1, columns: 64, elements: [1e20] + Array(repeating: 1, count: 63))
        #expect(throws: overflowingNorm("warmStart", row: 0)) {
            try start.withView { try PowerIteration.eigenpairs(of: floatDiagonal(top: 2), count: 1, warmStart: $0, using: &g) }
        }
    }
}

@Suite struct LanczosTests {
    @Test func topEigenvaluesMatchLAPACK() throws {
        var g = SplitMix64(seed: 5)
        let n = 80
        let a = symmetricMatrix(spectrum: gappedSpectrum(n, &g), &g)
        let reference = Array(referenceEigenvalues(a).reversed())
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let pairs = try Lanczos.eigenpairs(of: op, count: 3, steps: 30, using: &g)
        for i in 0..<3 { #expect(relativeError(pairs.values[i], reference[i]) < 1e-10) }
        #expect(pairs.converged.allSatisfy { $0 })
        // Full Krylov space: every eigenvalue exactly.
        let full = try Lanczos.eigenpairs(of: op, count: n, steps: n, using: &g)
        for i in 0..<n { #expect(abs(full.values[i] - reference[i]) < 1e-10) }
    }

    @Test func basisIsOrthonormalAndTridiagonalIsQᵀAQ() throws {
        var g = SplitMix64(seed: 6)
        let n = 50
        let a = symmetricMatrix(spectrum: (0..<n).map { _ in g.uniform(-3, 3) }, &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let start = (0..<n).map { _ in g.normal() }
        let d = try start.withUnsafeBufferPointer { try Lanczos.decompose(op, steps: 25, start: $0) }
        let q = d.basis
        for i in 0..<25 {
            let qi = Array(q.storage[(i * n)..<((i + 1) * n)])
            let aqi = multiply(a, qi)
            for j in 0..<25 {
                let qj = Array(q.storage[(j * n)..<((j + 1) * n)])
                let dot = zip(qi, qj).map(*).reduce(0, +)
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-12)
                let t = zip(qj, aqi).map(*).reduce(0, +)
                let expected = i == j ? d.alpha[i] : abs(i - j) == 1 ? d.beta[min(i, j)] : 0
                #expect(abs(t - expected) < 1e-10)
            }
        }
    }

    @Test func stopsEarlyOnInvariantSubspace() throws {
        var g = SplitMix64(seed: 7)
        // Three distinct eigenvalues: the Krylov space of any start vector has dimension ≤ 3.
        let a = symmetricMatrix(spectrum: (0..<20).map { [4.0, 2, 1][$0 % 3] }, &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let start = (0..<20).map { _ in g.normal() }
        let d = try start.withUnsafeBufferPointer { try Lanczos.decompose(op, steps: 10, start: $0) }
        #expect(d.steps == 3)
        let pairs = try Lanczos.eigenpairs(of: op, count: 3, steps: 10, using: &g)
        #expect(pairs.values.map { ($0 * 1e9).rounded() / 1e9 } == [4, 2, 1])
        #expect(throws: FulcrumError.self) { try Lanczos.eigenpairs(of: op, count: 4, steps: 10, using: &g) }
    }

    @Test func agreesWithPowerIteration() throws {
        var g = SplitMix64(seed: 8)
        let a = symmetricMatrix(spectrum: gappedSpectrum(60, &g), &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let lanczos = try Lanczos.eigenpairs(of: op, count: 2, steps: 40, using: &g)
        let power = try PowerIteration.eigenpairs(of: op, count: 2, maxIterations: 2000, tolerance: 1e-13, using: &g)
        for i in 0..<2 {
            #expect(relativeError(lanczos.values[i], power.values[i]) < 1e-9)
            // Same eigenvector up to sign.
            let dot = (0..<60).map { lanczos.vectors[i, $0] * power.vectors[i, $0] }.reduce(0, +)
            #expect(abs(abs(dot) - 1) < 1e-6)
        }
    }

    @Test func badInputThrows() throws {
        var g = SplitMix64(seed: 9)
        let a = symmetricMatrix(spectrum: [3, 2, 1], &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        #expect(throws: FulcrumError.self) { try Lanczos.eigenpairs(of: op, count: 1, steps: 0, using: &g) }
        #expect(throws: FulcrumError.self) { try Lanczos.eigenpairs(of: op, count: 1, steps: 4, using: &g) }
        #expect(throws: FulcrumError.self) { try Lanczos.eigenpairs(of: op, count: 3, steps: 2, using: &g) }
        let zero = [0.0, 0, 0]
        #expect(throws: FulcrumError.self) { try zero.withUnsafeBufferPointer { try Lanczos.decompose(op, steps: 2, start: $0) } }
        let nan = [0.0, .nan, 0]
        #expect(throws: FulcrumError.nonFiniteValue(argument: "start", row: 0, column: 1)) {
            try nan.withUnsafeBufferPointer { try Lanczos.decompose(op, steps: 2, start: $0) }
        }
        let poisoned = try ClosureOperator<Double>(dimension: 3) { x, y in for i in 0..<3 { y[i] = x[i] * .nan } }
        #expect(throws: FulcrumError.self) { try Lanczos.eigenpairs(of: poisoned, count: 1, steps: 2, using: &g) }
        #expect(throws: FulcrumError.self) {
            try Matrix<Double>(rows: 2, columns: 3, repeating: 1).withView { try SymmetricMatrixOperator($0) }
        }
    }

    @Test func overflowingNormThrows() throws {
        var g = SplitMix64(seed: 15)
        // β = ‖r‖ overflowed Float to +∞, and the test β ≤ 64·ε·‖T‖ = ∞ stopped as if invariant.
        #expect(throws: overflowingNorm("operator")) { try Lanczos.eigenpairs(of: floatDiagonal(top: 1e21), count: 1, steps: 4, using: &g) }
        let start = [Float](repeating: 1e20, count: 64)
        #expect(throws: overflowingNorm("start")) {
            try start.withUnsafeBufferPointer { try Lanczos.decompose(floatDiagonal(top: 2), steps: 4, start: $0) }
        }
    }
}
