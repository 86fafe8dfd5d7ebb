import Foundation
import FulcrumKernels

/// A small linear-head problem with every supported loss option, and its Double references.
struct HeadProblem {
    let n: Int, d: Int, c: Int
    var features: [Double], weights: [Double], bias: [Double]
    let targets: [Int32]
    let loss: SoftmaxCrossEntropy<Double>

    init(n: Int, d: Int, c: Int, seed: UInt64, options: Bool = true) {
        var g = TestRandom(seed: seed)
        (self.n, self.d, self.c) = (n, d, c)
        features = g.values(n * d, -1.5, 1.5)
        weights = g.values(c * d, -1, 1)
        bias = g.values(c, -0.5, 0.5)
        var t = (0..<n).map { _ in Int32(g.below(c)) }
        if options { t[1] = -100 }  // one ignored row
        targets = t
        loss = options
            ? SoftmaxCrossEntropy(classWeights: (0..<c).map { _ in g.uniform(0.2, 2) }, labelSmoothing: 0.15,
                                  temperature: 1.7, classOffsets: (0..<c).map { _ in g.uniform(-0.3, 0.3) },
                                  targetMargins: (0..<c).map { _ in g.uniform(0, 0.5) })
            : SoftmaxCrossEntropy()
    }

    /// The same data and parameters as `other`, with `loss`.
    init(copying other: HeadProblem, loss: SoftmaxCrossEntropy<Double>) {
        (n, d, c) = (other.n, other.d, other.c)
        (features, weights, bias, targets) = (other.features, other.weights, other.bias, other.targets)
        self.loss = loss
    }

    var dimension: Int { c * d + c }

    func hessian<T: FulcrumFloat>(_: T.Type = T.self, weights w: [Double]? = nil, bias b: [Double]? = nil) throws -> LinearHeadHessian<T> {
        let f = features.map { T($0) }, wt = (w ?? weights).map { T($0) }, bt = (b ?? bias).map { T($0) }
        var l = SoftmaxCrossEntropy<T>(labelSmoothing: T(loss.labelSmoothing), ignoreIndex: loss.ignoreIndex,
                                       reduction: loss.reduction, temperature: T(loss.temperature))
        l.classWeights = loss.classWeights?.map { T($0) }
        l.classOffsets = loss.classOffsets?.map { T($0) }
        l.targetMargins = loss.targetMargins?.map { T($0) }
        return try f.withView(rows: n, columns: d) { fv in
            try wt.withView(rows: c, columns: d) { wv in
                try bt.withUnsafeBufferPointer { bp in
                    try targets.withUnsafeBufferPointer { tp in
                        try LinearHeadHessian(features: fv, weights: wv, bias: bp, targets: tp, loss: l)
                    }
                }
            }
        }
    }

    /// The loss of PyTorch's weighted, smoothed cross-entropy (mean), in Double, from scratch.
    func referenceLoss(weights w: [Double], bias b: [Double]) -> Double {
        let cw = loss.classWeights ?? [Double](repeating: 1, count: c)
        let eps = loss.labelSmoothing, tau = loss.temperature
        var total = 0.0, weightSum = 0.0
        for i in 0..<n where targets[i] != loss.ignoreIndex {
            let y = Int(targets[i])
            var z = [Double](repeating: 0, count: c)
            for j in 0..<c {
                var x = b[j] + (loss.classOffsets?[j] ?? 0)
                for k in 0..<d { x += w[j * d + k] * features[i * d + k] }
                if j == y { x -= loss.targetMargins?[j] ?? 0 }
                z[j] = x / tau
            }
            let m = z.max()!
            let lse = m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
            var row = (1 - eps) * cw[y] * (lse - z[y])
            for j in 0..<c { row += eps / Double(c) * cw[j] * (lse - z[j]) }
            total += row
            weightSum += cw[y]
        }
        return total / weightSum
    }

    /// The explicit Hessian Σ_n a_n·J_nᵀ·(diag p − p·pᵀ)·J_n in Double, from scratch.
    func referenceHessian() -> [Double] {
        let cw = loss.classWeights ?? [Double](repeating: 1, count: c)
        let eps = loss.labelSmoothing, tau = loss.temperature
        let dim = dimension
        var h = [Double](repeating: 0, count: dim * dim)
        var weightSum = 0.0
        for i in 0..<n where targets[i] != loss.ignoreIndex { weightSum += cw[Int(targets[i])] }
        for i in 0..<n where targets[i] != loss.ignoreIndex {
            let y = Int(targets[i])
            var z = [Double](repeating: 0, count: c)
            for j in 0..<c {
                var x = bias[j] + (loss.classOffsets?[j] ?? 0)
                for k in 0..<d { x += weights[j * d + k] * features[i * d + k] }
                if j == y { x -= loss.targetMargins?[j] ?? 0 }
                z[j] = x / tau
            }
            let m = z.max()!
            let e = z.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            let p = e.map { $0 / s }
            let a = ((1 - eps) * cw[y] + eps / Double(c) * cw.reduce(0, +)) / (tau * tau) / weightSum
            // Parameter index of (class j, feature k) and the feature value, bias as feature 1.
            var index: [(Int, Int, Double)] = []
            for j in 0..<c {
                for k in 0..<d { index.append((j, j * d + k, features[i * d + k])) }
                index.append((j, c * d + j, 1))
            }
            for (j1, q1, x1) in index {
                for (j2, q2, x2) in index {
                    let sjj = (j1 == j2 ? p[j1] : 0) - p[j1] * p[j2]
                    h[q1 * dim + q2] += a * sjj * x1 * x2
                }
            }
        }
        return h
    }

    func split(_ theta: [Double]) -> (w: [Double], b: [Double]) {
        (Array(theta[0..<(c * d)]), Array(theta[(c * d)...]))
    }
}

func apply<T: FulcrumFloat>(_ op: some LinearOperator<T>, _ x: [T]) throws -> [T] {
    var y = [T](repeating: 0, count: x.count)
    try x.withUnsafeBufferPointer { xp in try y.withUnsafeMutableBufferPointer { try op.apply(xp, into: $0) } }
    return y
}

func gradient<T: FulcrumFloat>(_ h: LinearHeadHessian<T>) throws -> [T] {
    var g = [T](repeating: 0, count: h.dimension)
    try g.withUnsafeMutableBufferPointer { try h.gradient(into: $0) }
    return g
}

func norm(_ x: [Double]) -> Double { x.map { $0 * $0 }.reduce(0, +).squareRoot() }
func maxDifference(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
