import Testing
import FulcrumKernels

/// A small two-layer MLP problem; parameters flattened as (W₁, b₁, W₂, b₂).
struct MLPProblem {
    let n = 13, d = 5, h = 6, c = 4
    let x: [Double], targets: [Int32]
    let theta: [Double]
    let loss = SoftmaxCrossEntropy<Double>(classWeights: [1, 0.5, 2, 1.5], labelSmoothing: 0.1)

    init(seed: UInt64) {
        var g = TestRandom(seed: seed)
        x = g.values(n * d, -1.5, 1.5)
        targets = (0..<n).map { _ in Int32(g.below(4)) }
        theta = g.values(h * d + h + c * h + c, -1, 1)
    }

    var dimension: Int { theta.count }

    func operator_<T: FulcrumFloat>(_ activation: TwoLayerMLPHessian<T>.Activation, theta t: [Double]? = nil, as _: T.Type = T.self) throws -> TwoLayerMLPHessian<T> {
        let p = (t ?? theta).map { T($0) }
        let xs = x.map { T($0) }
        var l = SoftmaxCrossEntropy<T>(labelSmoothing: T(loss.labelSmoothing))
        l.classWeights = loss.classWeights?.map { T($0) }
        let w1 = Array(p[0..<(h * d)]), b1 = Array(p[(h * d)..<(h * d + h)])
        let w2 = Array(p[(h * d + h)..<(h * d + h + c * h)]), b2 = Array(p[(h * d + h + c * h)...])
        return try xs.withView(rows: n, columns: d) { xv in
            try w1.withView(rows: h, columns: d) { w1v in
                try w2.withView(rows: c, columns: h) { w2v in
                    try b1.withUnsafeBufferPointer { b1p in
                        try b2.withUnsafeBufferPointer { b2p in
                            try targets.withUnsafeBufferPointer { tp in
                                try TwoLayerMLPHessian(inputs: xv, firstWeights: w1v, firstBias: b1p, secondWeights: w2v, secondBias: b2p,
                                                       activation: activation, targets: tp, loss: l)
                            }
                        }
                    }
                }
            }
        }
    }
}

func mlpGradient<T: FulcrumFloat>(_ op: TwoLayerMLPHessian<T>) throws -> [T] {
    var g = [T](repeating: 0, count: op.dimension)
    try g.withUnsafeMutableBufferPointer { try op.gradient(into: $0) }
    return g
}

@Suite struct TwoLayerMLPHessianTests {
    @Test(arguments: [TwoLayerMLPHessian<Double>.Activation.relu, .tanh, .gelu])
    func gradientMatchesLossFiniteDifferences(activation: TwoLayerMLPHessian<Double>.Activation) throws {
        let problem = MLPProblem(seed: 21)
        let grad = try mlpGradient(try problem.operator_(activation))
        let eps = 1e-6
        for q in 0..<problem.dimension {
            var plus = problem.theta, minus = problem.theta
            plus[q] += eps
            minus[q] -= eps
            let fd = (try problem.operator_(activation, theta: plus).head.lossResult.loss
                      - problem.operator_(activation, theta: minus).head.lossResult.loss) / (2 * eps)
            #expect(abs(grad[q] - fd) < 1e-8)
        }
    }

    @Test(arguments: [TwoLayerMLPHessian<Double>.Activation.relu, .tanh, .gelu])
    func hessianMatchesFiniteDifferencesOfTheGradient(activation: TwoLayerMLPHessian<Double>.Activation) throws {
        let problem = MLPProblem(seed: 22)
        var g = TestRandom(seed: 23)
        let v: [Double] = g.values(problem.dimension, -1, 1)
        let op = try problem.operator_(activation)
        let hv = try apply(op, v)
        let eps = 1e-5
        let gp = try mlpGradient(try problem.operator_(activation, theta: zip(problem.theta, v).map { $0 + eps * $1 }))
        let gm = try mlpGradient(try problem.operator_(activation, theta: zip(problem.theta, v).map { $0 - eps * $1 }))
        let fd = zip(gp, gm).map { ($0 - $1) / (2 * eps) }
        #expect(maxDifference(hv, fd) <= 1e-7 * norm(fd))
        // Symmetry: uᵀ(Hv) = vᵀ(Hu).
        let u: [Double] = g.values(problem.dimension, -1, 1)
        let hu = try apply(op, u)
        let uhv = zip(u, hv).map(*).reduce(0, +), vhu = zip(v, hu).map(*).reduce(0, +)
        #expect(abs(uhv - vhu) <= 1e-12 * abs(uhv))
        // Float agrees with Double.
        let fop = try problem.operator_(TwoLayerMLPHessian<Float>.Activation(activation), as: Float.self)
        let hvFloat = try apply(fop, v.map { Float($0) }).map { Double($0) }
        #expect(maxDifference(hvFloat, hv) <= 1e-5 * norm(hv))
    }

    @Test func badInputThrows() throws {
        let problem = MLPProblem(seed: 24)
        let op = try problem.operator_(.tanh, as: Double.self)
        var v = [Double](repeating: 0, count: op.dimension)
        v[3] = .infinity
        #expect(throws: FulcrumError.nonFiniteValue(argument: "x", row: 0, column: 3)) { try apply(op, v) }
        var bad = problem.theta
        bad[2] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "firstWeights", row: 0, column: 2)) { try problem.operator_(.relu, theta: bad, as: Double.self) }
        bad = problem.theta
        bad[problem.dimension - 1] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "secondBias", row: 3, column: 0)) { try problem.operator_(.relu, theta: bad, as: Double.self) }
        #expect(throws: FulcrumError.self) { try apply(op, [1.0, 2.0]) }
    }
}

extension TwoLayerMLPHessian<Float>.Activation {
    init(_ a: TwoLayerMLPHessian<Double>.Activation) {
        switch a {
        case .relu: self = .relu
        case .tanh: self = .tanh
        case .gelu: self = .gelu
        }
    }
}
