import Testing
import FulcrumKernels
@testable import FulcrumCalibration

@Suite("Prior compensation and mixup")
struct MethodsTests {
    @Test func priorCompensationByHand() throws {
        // Priors (.8, .2). Row [.6 .4]: [.6/.8, .4/.2] = [.75, 2] → [.75/2.75, 2/2.75], arg-max 1.
        // Row [.9 .1]: [1.125, .5] → [1.125/1.625, .5/1.625], arg-max 0.
        // Target priors (.5, .5) give the same (a common factor cancels).
        let p: [Float] = [0.6, 0.4, 0.9, 0.1]
        var out = [Float](repeating: 0, count: 4)
        let decisions = try withMatrix(p, rows: 2, columns: 2) { m in
            try out.withUnsafeMutableBufferPointer {
                try PriorCompensation.apply(probabilities: m, priors: [0.8, 0.2], targetPriors: [0.5, 0.5],
                                            into: MutableMatrixView(unchecked: $0.baseAddress, rows: 2, columns: 2, rowStride: 2))
            }
        }
        #expect(decisions == [1, 0])
        let expected: [Double] = [0.75 / 2.75, 2 / 2.75, 1.125 / 1.625, 0.5 / 1.625]
        for k in 0..<4 { #expect(close(Double(out[k]), expected[k], 1e-6)) }
        let priors = try [Int32(0), 0, 0, 1].withUnsafeBufferPointer { try PriorCompensation.classPriors(labels: $0, classCount: 3) }
        #expect(priors == [0.75, 0.25, 0])
        try withMatrix(p, rows: 2, columns: 2) { m in
            try out.withUnsafeMutableBufferPointer { o in
                let view = MutableMatrixView(unchecked: o.baseAddress, rows: 2, columns: 2, rowStride: 2)
                #expect(throws: FulcrumError.invalidParameter(argument: "priors[1]", value: "0.0", requirement: "finite and > 0")) {
                    try PriorCompensation.apply(probabilities: m, priors: [1, 0], into: view)
                }
                #expect(throws: FulcrumError.shapeMismatch(argument: "priors", expected: "2", actual: "3")) {
                    try PriorCompensation.apply(probabilities: m, priors: [1, 1, 1], into: view)
                }
            }
        }
    }

    /// A subnormal prior (or a huge target) overflowed τₖ/πₖ to ∞: the row became ∞/∞ = NaN.
    @Test func extremePriorsDoNotOverflow() throws {
        let p: [Float] = [0.5, 0.5, 0.25, 0.75]
        func compensate(_ priors: [Double], _ targets: [Double]?) throws -> ([Float], [Int32]) {
            var out = [Float](repeating: 0, count: 4)
            let decisions = try withMatrix(p, rows: 2, columns: 2) { m in
                try out.withUnsafeMutableBufferPointer {
                    try PriorCompensation.apply(probabilities: m, priors: priors, targetPriors: targets,
                                                into: MutableMatrixView(unchecked: $0.baseAddress, rows: 2, columns: 2, rowStride: 2))
                }
            }
            return (out, decisions)
        }
        // A subnormal π₀ = 2⁻¹⁰⁶³ ≈ 10⁻³²⁰: nearly all the mass goes to class 0.
        #expect(try compensate([0x1p-1063, 1], nil) == ([1, 0, 1, 0], [0, 0]))
        // Equal targets, however large, leave the probabilities as they are.
        #expect(try compensate([0.5, 0.5], [1e308, 1e308]) == (p, [0, 1]))
        // Ordinary priors: the same bits as the plain ratios τₖ/πₖ.
        let (priors, targets) = ([0.7, 0.3], [0.2, 0.9])
        var expected: [Float] = []
        for i in 0..<2 {
            let adjusted = (0..<2).map { Double(p[i * 2 + $0]) * (targets[$0] / priors[$0]) }
            expected += adjusted.map { Float($0 / (adjusted[0] + adjusted[1])) }
        }
        #expect(try compensate(priors, targets).0 == expected)
    }

    @Test(arguments: [0.4, 2.0])
    func betaMomentsMatch(alpha: Double) throws {
        // Beta(α, α): mean ½, variance 1/(4(2α + 1)). 40 000 draws: standard errors ≈ .002 (mean)
        // and ≈ .001 (variance), so ±.01 is a > 4σ band.
        var g = TestGenerator(seed: 11)
        let draws = try (0..<40_000).map { _ in try Mixup.sampleBeta(alpha: alpha, using: &g) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
        #expect(abs(mean - 0.5) < 0.01)
        #expect(abs(variance - 1 / (4 * (2 * alpha + 1))) < 0.01)
        #expect(draws.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func mixupBatchIsTheConvexCombination() throws {
        let (n, d, c) = (16, 3, 4)
        var g = TestGenerator(seed: 12)
        let x = (0..<(n * d)).map { _ in Float(g.unit()) }
        let y = (0..<n).map { _ in Int32(g.below(c)) }
        func run(seed: UInt64) throws -> (Mixup.Batch, [Float], [Float]) {
            var generator = TestGenerator(seed: seed)
            var mixed = [Float](repeating: 0, count: n * d), soft = [Float](repeating: 9, count: n * c)
            let batch = try withMatrix(x, rows: n, columns: d) { m in
                try y.withUnsafeBufferPointer { yb in
                    try mixed.withUnsafeMutableBufferPointer { mx in
                        try soft.withUnsafeMutableBufferPointer { s in
                            try Mixup.mix(inputs: m, labels: yb, alpha: 0.3,
                                          mixedInputs: MutableMatrixView(unchecked: mx.baseAddress, rows: n, columns: d, rowStride: d),
                                          softLabels: MutableMatrixView(unchecked: s.baseAddress, rows: n, columns: c, rowStride: c), using: &generator)
                        }
                    }
                }
            }
            return (batch, mixed, soft)
        }
        let (batch, mixed, soft) = try run(seed: 13)
        #expect(batch.permutation.sorted() == Array(0..<n))
        let l = Float(batch.lambda)
        for i in 0..<n {
            let j = batch.permutation[i]
            for k in 0..<d { #expect(abs(mixed[i * d + k] - (l * x[i * d + k] + (1 - l) * x[j * d + k])) < 1e-6) }
            let row = Array(soft[(i * c)..<((i + 1) * c)])
            #expect(abs(row.reduce(0, +) - 1) < 1e-6)
            #expect(abs(row[Int(y[i])] - (y[i] == y[j] ? 1 : l)) < 1e-6)
        }
        // Same seed, same batch; another seed, another batch.
        let (again, mixedAgain, _) = try run(seed: 13)
        #expect(again == batch && mixedAgain == mixed)
        #expect(try run(seed: 14).0 != batch)
        var generator = TestGenerator(seed: 1)
        #expect(throws: FulcrumError.invalidParameter(argument: "alpha", value: "0.0", requirement: "finite and > 0")) {
            try Mixup.sampleBeta(alpha: 0, using: &generator)
        }
    }
}
