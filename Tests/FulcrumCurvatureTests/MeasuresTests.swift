import Testing
import FulcrumKernels
@testable import FulcrumCurvature

@Suite struct GradientCoherenceTests {
    @Test func matchesDefinition() throws {
        var g = SplitMix64(seed: 20)
        let (n, p) = (37, 2500)
        let m = try Matrix<Float>(rows: n, columns: p, elements: (0..<(n * p)).map { _ in Float(g.uniform(-1, 1) + 0.3) })
        var mean = [Double](repeating: 0, count: p), squares = 0.0
        for i in 0..<n { for j in 0..<p { mean[j] += Double(m[i, j]) / Double(n); squares += Double(m[i, j]) * Double(m[i, j]) } }
        let expected = mean.map { $0 * $0 }.reduce(0, +) / (squares / Double(n))
        let alpha = try m.withView { try GradientCoherence.coherence(of: $0) }
        #expect(relativeError(alpha, expected) < 1e-12)
    }

    @Test func extremes() throws {
        // Identical gradients: α = 1. Orthogonal unit gradients e₁…e₄: ‖mean‖² = 4/16, mean ‖g‖² = 1, α = 1/4.
        let same = try Matrix<Double>(rows: 3, columns: 2, elements: [1, 2, 1, 2, 1, 2])
        #expect(try same.withView { try GradientCoherence.coherence(of: $0) } == 1)
        var eye = try Matrix<Double>(rows: 4, columns: 4, repeating: 0)
        for i in 0..<4 { eye[i, i] = 1 }
        #expect(try eye.withView { try GradientCoherence.coherence(of: $0) } == 0.25)
        let zero = try Matrix<Double>(rows: 2, columns: 2, repeating: 0)
        #expect(throws: FulcrumError.self) { try zero.withView { try GradientCoherence.coherence(of: $0) } }
        let empty = try Matrix<Double>(rows: 0, columns: 2, repeating: 0)
        #expect(throws: FulcrumError.self) { try empty.withView { try GradientCoherence.coherence(of: $0) } }
        let nan = try Matrix<Double>(rows: 1, columns: 2, elements: [1, .nan])
        #expect(throws: FulcrumError.nonFiniteValue(argument: "gradients", row: 0, column: 1)) { try nan.withView { try GradientCoherence.coherence(of: $0) } }
    }
}

@Suite struct JacobianAsymmetryTests {
    @Test func exactValues() throws {
        // J = [[0, 1], [3, 0]]: J − Jᵀ = [[0, −2], [2, 0]], ‖·‖²_F = 8.
        let j = try Matrix<Double>(rows: 2, columns: 2, elements: [0, 1, 3, 0])
        #expect(try j.withView { try JacobianAsymmetry.exact($0) } == 8)
        #expect(throws: FulcrumError.self) { try Matrix<Double>(rows: 2, columns: 3, repeating: 0).withView { try JacobianAsymmetry.exact($0) } }
    }

    @Test func estimateIsUnbiasedAndZeroForSymmetric() throws {
        var g = SplitMix64(seed: 21)
        let n = 25
        let j = try Matrix<Double>(rows: n, columns: n, elements: (0..<(n * n)).map { _ in g.normal() })
        let exact = try j.withView { try JacobianAsymmetry.exact($0) }
        var z: [Double] = []
        for seed in 0..<100 {
            var probes = SplitMix64(seed: 500 + UInt64(seed))
            let e = try JacobianAsymmetry.estimate(dimension: n, probes: 30, using: &probes,
                jvp: { v, out in for r in 0..<n { out[r] = (0..<n).reduce(0.0) { $0 + j[r, $1] * v[$1] } } },
                vjp: { v, out in for c in 0..<n { out[c] = (0..<n).reduce(0.0) { $0 + j[$1, c] * v[$1] } } })
            z.append((e.estimate - exact) / e.standardError)
        }
        #expect(z.filter { abs($0) > 3 }.count <= 3)
        let s = symmetricMatrix(spectrum: (0..<n).map { _ in g.normal() }, &g)
        let sym = try JacobianAsymmetry.estimate(dimension: n, probes: 4, using: &g,
            jvp: { v, out in for r in 0..<n { out[r] = (0..<n).reduce(0.0) { $0 + s[r, $1] * v[$1] } } },
            vjp: { v, out in for c in 0..<n { out[c] = (0..<n).reduce(0.0) { $0 + s[$1, c] * v[$1] } } })
        #expect(sym.estimate == 0)
        #expect(throws: FulcrumError.nonFiniteValue(argument: "vjp", row: 0, column: 0)) {
            try JacobianAsymmetry.estimate(dimension: 2, probes: 2, using: &g,
                                           jvp: { (_, o: UnsafeMutableBufferPointer<Double>) in o[0] = 0; o[1] = 0 },
                                           vjp: { (_, o: UnsafeMutableBufferPointer<Double>) in o[0] = .nan; o[1] = 0 })
        }
    }
}

@Suite struct FeatureConditioningTests {
    @Test func handDerivedValues() throws {
        // Columns (3, 0, 0) and (0, 0.5, 0) are orthogonal: σ = 3 and 0.5, κ = 6.
        let x = try Matrix<Double>(rows: 3, columns: 2, elements: [3, 0, 0, 0.5, 0, 0])
        #expect(try x.withView { try FeatureConditioning.singularValues(of: $0) } == [3, 0.5])
        #expect(try x.withView { try FeatureConditioning.conditionNumber(of: $0) } == 6)
        // Rank deficient: two equal rows. The SVD's σ_min is rounding noise (0 or about 1e-8·σ_max
        // in Float, depending on the BLAS build): below the rank tolerance, so κ = +∞ in both types.
        let r = try Matrix<Float>(rows: 2, columns: 2, elements: [1, 2, 1, 2])
        #expect(try r.withView { try FeatureConditioning.conditionNumber(of: $0) } == .infinity)
        let rd = try Matrix<Double>(rows: 3, columns: 3, elements: [1, 2, 3, 4, 5, 6, 5, 7, 9])  // row 3 = row 1 + row 2
        #expect(try rd.withView { try FeatureConditioning.conditionNumber(of: $0) } == .infinity)
        // Ill-conditioned but of full rank: σ = 1 and 1e-4, far above the tolerance 2·2⁻²³.
        let ill = try Matrix<Float>(rows: 2, columns: 2, elements: [1, 0, 0, 1e-4])
        #expect(abs(try ill.withView { try FeatureConditioning.conditionNumber(of: $0) } - 1e4) <= 1e4 * 1e-5)
        #expect(throws: FulcrumError.self) { try Matrix<Double>(rows: 2, columns: 2, repeating: 0).withView { try FeatureConditioning.conditionNumber(of: $0) } }
        #expect(throws: FulcrumError.self) { try Matrix<Double>(rows: 0, columns: 2, repeating: 0).withView { try FeatureConditioning.singularValues(of: $0) } }
    }

    @Test func matchesEigenvaluesOfGram() throws {
        var g = SplitMix64(seed: 22)
        let (n, d) = (50, 12)
        let x = try Matrix<Double>(rows: n, columns: d, elements: (0..<(n * d)).map { _ in g.normal() })
        var gram = try Matrix<Double>(rows: d, columns: d, repeating: 0)
        for i in 0..<d { for j in 0..<d { gram[i, j] = (0..<n).reduce(0.0) { $0 + x[$1, i] * x[$1, j] } } }
        let expected = referenceEigenvalues(gram).reversed().map { $0.squareRoot() }
        let sigma = try x.withView { try FeatureConditioning.singularValues(of: $0) }
        for (s, e) in zip(sigma, expected) { #expect(relativeError(s, e) < 1e-10) }
    }
}
