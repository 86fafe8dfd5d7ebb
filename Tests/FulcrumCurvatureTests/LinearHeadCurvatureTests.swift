import Testing
import FulcrumKernels
@testable import FulcrumCurvature

/// A head over arrays (features `rows` × D, weights C × D with C = bias.count).
func makeHead(features f: [Double], rows: Int, weights w: [Double], bias b: [Double], targets t: [Int32],
              loss: SoftmaxCrossEntropy<Double>) throws -> LinearHeadHessian<Double> {
    let (c, d) = (b.count, f.count / rows)
    return try f.withUnsafeBufferPointer { fp in
        try w.withUnsafeBufferPointer { wp in
            try b.withUnsafeBufferPointer { bp in
                try t.withUnsafeBufferPointer { tp in
                    try LinearHeadHessian(features: MatrixView(fp, rows: rows, columns: d), weights: MatrixView(wp, rows: c, columns: d),
                                          bias: bp, targets: tp, loss: loss)
                }
            }
        }
    }
}

/// Softmax-CE linear heads on several domains sharing (W, b).
struct Domains {
    let d = 4, c = 3
    var features: [[Double]] = [], targets: [[Int32]] = []
    let loss = SoftmaxCrossEntropy<Double>(classWeights: [1, 2, 0.5], labelSmoothing: 0.1)

    init(count: Int, rows: Int, seed: UInt64) {
        var g = SplitMix64(seed: seed)
        for e in 0..<count {
            let shift = Double(e) * 0.7
            features.append((0..<(rows * d)).map { _ in g.normal() + shift })
            targets.append((0..<rows).map { _ in Int32(g.next() % 3) })
        }
    }

    var dimension: Int { c * d + c }

    func heads(_ theta: [Double]) throws -> [LinearHeadHessian<Double>] {
        let w = Array(theta[0..<(c * d)]), b = Array(theta[(c * d)...])
        return try zip(features, targets).map { f, t in
            try makeHead(features: f, rows: t.count, weights: w, bias: b, targets: t, loss: loss)
        }
    }
}

@Suite struct HessianAlignmentTests {
    @Test func hgpGradientMatchesFiniteDifferences() throws {
        let domains = Domains(count: 3, rows: 20, seed: 30)
        var g = SplitMix64(seed: 31)
        let theta = (0..<domains.dimension).map { _ in g.uniform(-0.5, 0.5) }
        let penalty = try HessianAlignment.hessianGradientProduct(domains: try domains.heads(theta), alpha: 0.7, beta: 1.3)
        #expect(abs(penalty.value - (0.7 * penalty.hessianTerm + 1.3 * penalty.gradientTerm)) < 1e-15)
        #expect(penalty.hessianTerm > 0 && penalty.gradientTerm > 0)
        let eps = 1e-5
        for q in 0..<domains.dimension {
            var plus = theta, minus = theta
            plus[q] += eps
            minus[q] -= eps
            let fp = try HessianAlignment.hessianGradientProduct(domains: try domains.heads(plus), alpha: 0.7, beta: 1.3).value
            let fm = try HessianAlignment.hessianGradientProduct(domains: try domains.heads(minus), alpha: 0.7, beta: 1.3).value
            let fd = (fp - fm) / (2 * eps)
            #expect(abs(penalty.gradient[q] - fd) <= 1e-7 * max(1e-3, abs(fd)))
        }
    }

    @Test func hutchinsonGradientMatchesFiniteDifferences() throws {
        let domains = Domains(count: 2, rows: 25, seed: 32)
        var g = SplitMix64(seed: 33)
        let theta = (0..<domains.dimension).map { _ in g.uniform(-0.5, 0.5) }
        func evaluate(_ t: [Double]) throws -> HessianAlignment.Penalty<Double> {
            var probes = SplitMix64(seed: 34)  // the same probes at every θ
            return try HessianAlignment.hutchinson(domains: try domains.heads(t), alpha: 2, beta: 0.5, probes: 6, using: &probes)
        }
        let penalty = try evaluate(theta)
        let eps = 1e-5
        for q in 0..<domains.dimension {
            var plus = theta, minus = theta
            plus[q] += eps
            minus[q] -= eps
            let fd = (try evaluate(plus).value - evaluate(minus).value) / (2 * eps)
            #expect(abs(penalty.gradient[q] - fd) <= 1e-7 * max(1e-3, abs(fd)))
        }
    }

    @Test func hutchinsonDiagonalTermTargetsTheExactDiagonals() throws {
        // With many probes the Hutchinson diagonals approach diag(H_e): compare the term with the
        // one computed from the exact diagonals (built from H_e·e_j).
        let domains = Domains(count: 2, rows: 30, seed: 35)
        let theta = [Double](repeating: 0.1, count: domains.dimension)
        let heads = try domains.heads(theta)
        let n = domains.dimension
        let diagonals = try heads.map { h in
            try (0..<n).map { j -> Double in
                var e = [Double](repeating: 0, count: n)
                e[j] = 1
                return try HessianAlignment.apply(h, e)[j]
            }
        }
        let mean = HessianAlignment.mean(diagonals)
        let exact = diagonals.map { HessianAlignment.squaredNorm(HessianAlignment.subtract($0, mean)) }.reduce(0, +) / 2
        var probes = SplitMix64(seed: 36)
        let estimate = try HessianAlignment.hutchinson(domains: heads, alpha: 1, beta: 0, probes: 4000, using: &probes)
        #expect(abs(estimate.hessianTerm - exact) < 0.1 * exact)
    }

    @Test func badInputThrows() throws {
        let domains = Domains(count: 2, rows: 5, seed: 37)
        let heads = try domains.heads([Double](repeating: 0, count: domains.dimension))
        #expect(throws: FulcrumError.self) { try HessianAlignment.hessianGradientProduct(domains: [heads[0]], alpha: 1, beta: 1) }
        #expect(throws: FulcrumError.self) { try HessianAlignment.hessianGradientProduct(domains: heads, alpha: -1, beta: 1) }
        #expect(throws: FulcrumError.self) { try HessianAlignment.hessianGradientProduct(domains: heads, alpha: 1, beta: .nan) }
        var g = SplitMix64(seed: 1)
        #expect(throws: FulcrumError.self) { try HessianAlignment.hutchinson(domains: heads, alpha: 1, beta: 1, probes: 0, using: &g) }
    }
}

@Suite struct LinearHeadCurvatureTests {
    /// The explicit Hessian of a head, column by column from the operator.
    func explicitHessian(_ h: LinearHeadHessian<Double>) throws -> Matrix<Double> {
        let n = h.dimension
        var m = try Matrix<Double>(rows: n, columns: n, repeating: 0)
        for j in 0..<n {
            var e = [Double](repeating: 0, count: n)
            e[j] = 1
            let col = try HessianAlignment.apply(h, e)
            for i in 0..<n { m[i, j] = col[i] }
        }
        return m
    }

    @Test func eigenvaluesMatchLAPACKAndMethodsAgree() throws {
        let domains = Domains(count: 1, rows: 60, seed: 40)
        var g = SplitMix64(seed: 41)
        let head = try domains.heads((0..<domains.dimension).map { _ in g.uniform(-1, 1) })[0]
        let reference = Array(referenceEigenvalues(try explicitHessian(head)).reversed())
        let lanczos = try Lanczos.eigenpairs(of: head, count: 3, steps: 14, using: &g)
        let power = try PowerIteration.eigenpairs(of: head, count: 2, maxIterations: 3000, tolerance: 1e-14, using: &g)
        for i in 0..<3 { #expect(relativeError(lanczos.values[i], reference[i]) < 1e-9) }
        for i in 0..<2 { #expect(relativeError(power.values[i], reference[i]) < 1e-7) }
        // The Hessian of softmax-CE is positive semi-definite: the smallest eigenvalue is ≥ 0 (up to rounding).
        #expect(reference.last! > -1e-12)
        // The trace: Hutchinson within 4 standard errors; SLQ's first moment too.
        let trace = reference.reduce(0, +)
        let hutchinson = try HutchinsonTrace.estimate(of: head, probes: 200, batchSize: 8, using: &g)
        #expect(abs(hutchinson.estimate - trace) < 4 * hutchinson.standardError)
    }

    @Test func coherenceMatchesExplicitPerExampleGradients() throws {
        let domains = Domains(count: 1, rows: 40, seed: 42)
        var g = SplitMix64(seed: 43)
        var targets = domains.targets[0]
        targets[3] = -100  // an ignored row does not count
        let theta = (0..<domains.dimension).map { _ in g.uniform(-1, 1) }
        let (c, d, rows) = (domains.c, domains.d, 40)
        let w = Array(theta[0..<(c * d)]), b = Array(theta[(c * d)...])
        let f = domains.features[0]
        let head = try makeHead(features: f, rows: rows, weights: w, bias: b, targets: targets, loss: domains.loss)
        var rowGradients = try Matrix<Double>(rows: rows, columns: c, repeating: 0)
        try rowGradients.withMutableView { try head.rowGradients(into: $0) }
        // Per-example gradients (g_n ⊗ f_n, g_n), one row each, for the counted rows.
        var explicit: [Double] = []
        for i in 0..<rows where targets[i] != -100 {
            for j in 0..<c { for k in 0..<d { explicit.append(rowGradients[i, j] * f[i * d + k]) } }
            for j in 0..<c { explicit.append(rowGradients[i, j]) }
        }
        let m = try Matrix<Double>(rows: rows - 1, columns: c * d + c, elements: explicit)
        let expected = try m.withView { try GradientCoherence.coherence(of: $0) }
        #expect(relativeError(try GradientCoherence.coherence(of: head), expected) < 1e-12)
    }

    @Test func coherenceOfHugeFloatFeaturesThrows() throws {
        // ‖f_0‖², accumulated in Float, overflowed: the coherence came out as 0 instead of about 1/2.
        let (rows, d) = (2, 64)
        let features = [Float](repeating: 1, count: rows * d).enumerated().map { $0.offset == 0 ? 1e20 : $0.element }
        let weights = [Float](repeating: 0, count: 2 * d), targets: [Int32] = [0, 1]
        let head = try features.withUnsafeBufferPointer { fp in
            try weights.withUnsafeBufferPointer { wp in
                try targets.withUnsafeBufferPointer { tp in
                    try LinearHeadHessian(features: MatrixView(fp, rows: rows, columns: d), weights: MatrixView(wp, rows: 2, columns: d),
                                          bias: nil, targets: tp)
                }
            }
        }
        #expect(throws: overflowingNorm("head", row: 0)) { try GradientCoherence.coherence(of: head) }
    }
}
