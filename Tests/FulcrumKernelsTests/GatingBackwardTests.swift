import Testing
@testable import FulcrumKernels

@Suite("Gating backward against central finite differences in Double")
struct GatingBackwardTests {
    @Test(arguments: gatingCases)
    func matchesFiniteDifferences(_ testCase: GatingCase) throws {
        let c = testCase.configuration
        let experts = c.totalExpertCount
        var random = TestRandom(seed: 29)
        let n = 48
        let offsets = [0, 10, 31, 48]
        let logits = random.logits(n, experts)
        let bias = testCase.withBias ? (0..<experts).map { _ in Float(random.uniform(-0.5, 0.5)) } : nil
        let forward = try route(logits, c, bias: bias, offsets: offsets)
        let g = try Matrix<Float>(rows: n, columns: c.topK, elements: (0..<(n * c.topK)).map { _ in Float(random.uniform(-1, 1)) })
        let coefficients = try Matrix<Double>(rows: 3, columns: experts, elements: (0..<(3 * experts)).map { _ in random.uniform(-2, 2) })
        let gamma: Float = 0.03
        var gradient = try Matrix<Float>(rows: n, columns: experts, repeating: .nan)
        try logits.withView { x in try forward.indices.withView { idx in try g.withView { gv in try coefficients.withView { cv in
            try forward.logSumExp.withUnsafeBufferPointer { lse in
                try gradient.withMutableView { out in
                    try Gating.backward(logits: x, configuration: c, indices: idx, logSumExp: lse, weightGradients: gv,
                                        balanceCoefficients: cv, sequenceOffsets: offsets, zLossCoefficient: gamma, into: out)
                }
            }
        } } } }
        for t in 0..<n {
            let sequence = offsets.lastIndex { $0 <= t }!
            let x = (0..<experts).map { Double(logits[t, $0]) }
            let fd = GatingReference.rowGradient(
                x, c, indices: (0..<c.topK).map { forward.indices[t, $0] }, g: (0..<c.topK).map { Double(g[t, $0]) },
                coefficients: (0..<experts).map { coefficients[sequence, $0] }, gamma: Double(gamma))
            for j in 0..<experts {
                #expect(close(Double(gradient[t, j]), fd[j], abs: 2e-5, rel: 1e-4), "row \(t) column \(j): \(gradient[t, j]) vs \(fd[j])")
            }
        }
    }

    /// Strided logits and gradient rows (NaN in the padding, which must stay untouched).
    @Test(arguments: [
        GatingConfiguration(expertCount: 21, topK: 3), GatingConfiguration(expertCount: 21, topK: 3, scoreFunction: .sigmoid),
    ])
    func stridedRowsMatchContiguousRows(_ c: GatingConfiguration) throws {
        var random = TestRandom(seed: 31)
        let (n, e) = (19, c.totalExpertCount)
        let stride = e + 3
        let logits = random.logits(n, e)
        let forward = try route(logits, c)
        let g = try Matrix<Float>(rows: n, columns: c.topK, elements: (0..<(n * c.topK)).map { _ in Float(random.uniform(-1, 1)) })
        let coefficients = try Matrix<Double>(rows: 1, columns: e, elements: (0..<e).map { _ in random.uniform(-2, 2) })
        func backward(_ x: MatrixView<Float>, into out: MutableMatrixView<Float>) throws {
            try forward.indices.withView { idx in try g.withView { gv in try coefficients.withView { cv in
                try forward.logSumExp.withUnsafeBufferPointer { lse in
                    try Gating.backward(logits: x, configuration: c, indices: idx, logSumExp: lse, weightGradients: gv,
                                        balanceCoefficients: cv, zLossCoefficient: 0.01, into: out)
                }
            } } }
        }
        var contiguous = try Matrix<Float>(rows: n, columns: e, repeating: 0)
        try logits.withView { x in try contiguous.withMutableView { try backward(x, into: $0) } }
        var paddedLogits = [Float](repeating: .nan, count: n * stride)
        for t in 0..<n { for j in 0..<e { paddedLogits[t * stride + j] = logits[t, j] } }
        var paddedGradient = [Float](repeating: .nan, count: n * stride)
        try paddedLogits.withUnsafeBufferPointer { x in try paddedGradient.withUnsafeMutableBufferPointer { out in
            try backward(MatrixView(x, rows: n, columns: e, rowStride: stride), into: MutableMatrixView(out, rows: n, columns: e, rowStride: stride))
        } }
        for t in 0..<n {
            #expect((0..<e).map { paddedGradient[t * stride + $0] } == (0..<e).map { contiguous[t, $0] }, "row \(t)")
            #expect((e..<stride).allSatisfy { paddedGradient[t * stride + $0].isNaN }, "padding of row \(t)")
        }
    }

    /// The balance gradient of a nearly balanced load: c = 1000 + δ with |δ| ≤ 10⁻³, so cⱼ − Σcs
    /// cancels six digits. Against the analytic Double gradient sⱼ(cⱼ − Σcs) (times 1 − σⱼ for
    /// sigmoid), each entry must hold to 10⁻³ of itself: summing c·s directly would leave an error
    /// near 1000·(Σs − 1) ≈ 10⁻⁴·sⱼ, a tenth of the gradient. Equal coefficients (a perfectly
    /// balanced load) give exactly 0.
    @Test(arguments: [
        GatingConfiguration(expertCount: 64, topK: 2), GatingConfiguration(expertCount: 64, topK: 2, scoreFunction: .sigmoid),
    ])
    func nearlyBalancedCoefficients(_ c: GatingConfiguration) throws {
        var random = TestRandom(seed: 37)
        let (n, e) = (21, c.totalExpertCount)
        let logits = random.logits(n, e)
        let forward = try route(logits, c)
        func gradient(_ coefficients: Matrix<Double>) throws -> Matrix<Float> {
            var out = try Matrix<Float>(rows: n, columns: e, repeating: .nan)
            try logits.withView { x in try forward.indices.withView { idx in try coefficients.withView { cv in
                try forward.logSumExp.withUnsafeBufferPointer { lse in
                    try out.withMutableView { o in
                        try Gating.backward(logits: x, configuration: c, indices: idx, logSumExp: lse, weightGradients: nil,
                                            balanceCoefficients: cv, zLossCoefficient: 0, into: o)
                    }
                }
            } } }
            return out
        }
        let nearly = try Matrix<Double>(rows: 1, columns: e, elements: (0..<e).map { _ in 1000 + random.uniform(-1e-3, 1e-3) })
        let computed = try gradient(nearly)
        for t in 0..<n {
            let x = (0..<e).map { Double(logits[t, $0]) }
            let s = GatingReference.row(x, c, bias: nil).scores
            let mean = (0..<e).reduce(0.0) { $0 + nearly[0, $1] * s[$1] }
            for j in 0..<e {
                let slope = c.scoreFunction == .sigmoid ? 1 - GatingReference.sigmoid(x[j]) : 1
                let expected = s[j] * slope * (nearly[0, j] - mean)
                #expect(close(Double(computed[t, j]), expected, abs: 1e-12, rel: 1e-3), "row \(t) column \(j): \(computed[t, j]) vs \(expected)")
            }
        }
        let balanced = try gradient(try Matrix<Double>(rows: 1, columns: e, repeating: 1000))
        #expect(balanced.storage.allSatisfy { $0 == 0 })
    }

    @Test func onlyTheZLoss() throws {
        // With g = 0 and no balance term, ∂(γ·lse²)/∂xⱼ = 2γ·lse·pⱼ; for x = [0, 0] lse = log 2, p = ½.
        let logits = try Matrix<Float>(rows: 1, columns: 2, elements: [0, 0])
        let c = GatingConfiguration(expertCount: 2, topK: 1)
        let forward = try route(logits, c)
        var gradient = try Matrix<Float>(rows: 1, columns: 2, repeating: .nan)
        try logits.withView { x in try forward.indices.withView { idx in try forward.logSumExp.withUnsafeBufferPointer { lse in
            try gradient.withMutableView { out in
                try Gating.backward(logits: x, configuration: c, indices: idx, logSumExp: lse, weightGradients: nil,
                                    balanceCoefficients: nil, zLossCoefficient: 0.5, into: out)
            }
        } } }
        let expected = Float.log(2) * 0.5  // 2·0.5·log 2·½
        #expect(gradient.storage.allSatisfy { abs($0 - expected) < 1e-7 })
    }
}
