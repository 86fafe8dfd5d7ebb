import Testing
import CBLASShim
import FulcrumKernels

@Suite struct LinearHeadHessianTests {
    @Test(arguments: [false, true])
    func matchesExplicitHessian(options: Bool) throws {
        let problem = HeadProblem(n: 9, d: 4, c: 5, seed: options ? 1 : 2, options: options)
        let h = problem.referenceHessian()
        let dim = problem.dimension
        var g = TestRandom(seed: 3)
        let v: [Double] = g.values(dim, -1, 1)
        let expected = (0..<dim).map { i in (0..<dim).reduce(0.0) { $0 + h[i * dim + $1] * v[$1] } }
        let hv = try apply(try problem.hessian(Double.self), v)
        #expect(maxDifference(hv, expected) <= 1e-13 * norm(expected))
        let hvFloat = try apply(try problem.hessian(Float.self), v.map { Float($0) }).map { Double($0) }
        #expect(maxDifference(hvFloat, expected) <= 2e-6 * norm(expected))
    }

    @Test func gradientMatchesLossFiniteDifferencesAndTheCrossEntropyKernel() throws {
        let problem = HeadProblem(n: 11, d: 3, c: 4, seed: 4)
        let op = try problem.hessian(Double.self)
        #expect(abs(Double(op.lossResult.loss) - problem.referenceLoss(weights: problem.weights, bias: problem.bias)) < 1e-13)
        let grad = try gradient(op)
        let theta = problem.weights + problem.bias
        let eps = 1e-6
        for q in 0..<problem.dimension {
            var plus = theta, minus = theta
            plus[q] += eps
            minus[q] -= eps
            let (wp, bp) = problem.split(plus), (wm, bm) = problem.split(minus)
            let fd = (problem.referenceLoss(weights: wp, bias: bp) - problem.referenceLoss(weights: wm, bias: bm)) / (2 * eps)
            #expect(abs(grad[q] - fd) < 1e-8)
        }
    }

    @Test func hessianMatchesFiniteDifferencesOfTheGradient() throws {
        let problem = HeadProblem(n: 30, d: 6, c: 7, seed: 5)
        var g = TestRandom(seed: 6)
        let v: [Double] = g.values(problem.dimension, -1, 1)
        let hv = try apply(try problem.hessian(Double.self), v)
        let eps = 1e-5
        let theta = problem.weights + problem.bias
        let plus = problem.split(zip(theta, v).map { $0 + eps * $1 })
        let minus = problem.split(zip(theta, v).map { $0 - eps * $1 })
        let gp = try gradient(try problem.hessian(Double.self, weights: plus.w, bias: plus.b))
        let gm = try gradient(try problem.hessian(Double.self, weights: minus.w, bias: minus.b))
        let fd = zip(gp, gm).map { ($0 - $1) / (2 * eps) }
        #expect(maxDifference(hv, fd) <= 1e-8 * norm(hv))
    }

    @Test func symmetricAndBatchedEqualsSingle() throws {
        let problem = HeadProblem(n: 200, d: 24, c: 19, seed: 7)
        let op = try problem.hessian(Double.self)
        var g = TestRandom(seed: 8)
        let dim = problem.dimension
        let u: [Double] = g.values(dim, -1, 1), v: [Double] = g.values(dim, -1, 1)
        let hu = try apply(op, u), hv = try apply(op, v)
        let uhv = zip(u, hv).map(*).reduce(0, +), vhu = zip(v, hu).map(*).reduce(0, +)
        #expect(abs(uhv - vhu) <= 1e-12 * abs(uhv))
        // Batched: three directions in one call give the single products bitwise.
        let w: [Double] = g.values(dim, -1, 1)
        let batch = u + v + w
        var out = [Double](repeating: 0, count: 3 * dim)
        try batch.withView(rows: 3, columns: dim) { x in try out.withMutableView(rows: 3, columns: dim) { try op.apply(x, into: $0) } }
        #expect(Array(out[0..<dim]) == hu)
        #expect(Array(out[dim..<(2 * dim)]) == hv)
        #expect(Array(out[(2 * dim)...]) == (try apply(op, w)))
    }

    @Test func thirdDerivativeMatchesFiniteDifferencesOfTheHessian() throws {
        let problem = HeadProblem(n: 25, d: 5, c: 6, seed: 9)
        let op = try problem.hessian(Double.self)
        var g = TestRandom(seed: 10)
        let dim = problem.dimension
        let u: [Double] = g.values(dim, -1, 1), v: [Double] = g.values(dim, -1, 1)
        let u2: [Double] = g.values(dim, -1, 1), v2: [Double] = g.values(dim, -1, 1)
        var t = [Double](repeating: 0, count: dim)
        try (u + u2).withView(rows: 2, columns: dim) { a in
            try (v + v2).withView(rows: 2, columns: dim) { b in
                try t.withUnsafeMutableBufferPointer { try op.thirdDerivative(first: a, second: b, into: $0) }
            }
        }
        // d/dε H(θ + ε·u)·v, summed over the two pairs.
        let eps = 1e-5
        let theta = problem.weights + problem.bias
        var fd = [Double](repeating: 0, count: dim)
        for (a, b) in [(u, v), (u2, v2)] {
            let plus = problem.split(zip(theta, a).map { $0 + eps * $1 })
            let minus = problem.split(zip(theta, a).map { $0 - eps * $1 })
            let hp = try apply(try problem.hessian(Double.self, weights: plus.w, bias: plus.b), b)
            let hm = try apply(try problem.hessian(Double.self, weights: minus.w, bias: minus.b), b)
            for q in 0..<dim { fd[q] += (hp[q] - hm[q]) / (2 * eps) }
        }
        #expect(maxDifference(t, fd) <= 1e-7 * norm(fd))
    }

    @Test func gradientMatchesCrossEntropyKernelInFloat() throws {
        let problem = HeadProblem(n: 64, d: 16, c: 10, seed: 11)
        let op = try problem.hessian(Float.self)
        let grad = try gradient(op).map { Double($0) }
        let reference = try gradient(try problem.hessian(Double.self))
        #expect(maxDifference(grad, reference) <= 1e-6 * (reference.map(abs).max() ?? 1))
    }

    @Test func updateReusesTheOperatorAndMatchesAFreshOne() throws {
        let problem = HeadProblem(n: 50, d: 7, c: 6, seed: 15)
        let other = HeadProblem(n: 50, d: 7, c: 6, seed: 16)
        let op = try problem.hessian(Float.self)
        var g = TestRandom(seed: 17)
        let v: [Float] = g.values(problem.dimension, -1, 1)
        let f = other.features.map { Float($0) }, w = other.weights.map { Float($0) }, b = other.bias.map { Float($0) }
        try f.withView(rows: 50, columns: 7) { fv in
            try w.withView(rows: 6, columns: 7) { wv in
                try b.withUnsafeBufferPointer { bp in
                    try other.targets.withUnsafeBufferPointer { try op.update(features: fv, weights: wv, bias: bp, targets: $0) }
                }
            }
        }
        // `other` has its own loss options; compare with a fresh operator under the first problem's loss.
        let fresh = HeadProblem(copying: other, loss: problem.loss)
        let expected = try fresh.hessian(Float.self)
        #expect(try apply(op, v) == apply(expected, v))
        #expect(op.lossResult == expected.lossResult)
        #expect(throws: FulcrumError.self) {
            try f.withView(rows: 49, columns: 7) { fv in
                try w.withView(rows: 6, columns: 7) { wv in
                    try other.targets.withUnsafeBufferPointer { try op.update(features: fv, weights: wv, bias: nil, targets: $0) }
                }
            }
        }
    }

    @Test func badInputThrows() throws {
        let problem = HeadProblem(n: 5, d: 3, c: 4, seed: 12)
        let (n, d, c) = (5, 3, 4)
        let f = problem.features, w = problem.weights, b = problem.bias
        func make(_ f: [Double], _ fr: Int, _ w: [Double], _ wr: Int, _ b: [Double]?, _ t: [Int32], loss: SoftmaxCrossEntropy<Double> = .init()) throws {
            _ = try f.withView(rows: fr, columns: d) { fv in
                try w.withView(rows: wr, columns: d) { wv in
                    try t.withUnsafeBufferPointer { tp in
                        if let b {
                            return try b.withUnsafeBufferPointer { try LinearHeadHessian(features: fv, weights: wv, bias: $0, targets: tp, loss: loss) }
                        }
                        return try LinearHeadHessian(features: fv, weights: wv, bias: nil, targets: tp, loss: loss)
                    }
                }
            }
        }
        let t: [Int32] = [0, 1, 2, 3, 0]
        try make(f, n, w, c, b, t)
        try make(f, n, w, c, nil, t)
        #expect(throws: FulcrumError.shapeMismatch(argument: "bias", expected: "4", actual: "3")) { try make(f, n, w, c, [0, 0, 0], t) }
        #expect(throws: FulcrumError.shapeMismatch(argument: "targets", expected: "5", actual: "4")) { try make(f, n, w, c, b, [0, 1, 2, 3]) }
        #expect(throws: FulcrumError.indexOutOfRange(argument: "targets", position: 2, value: 4, validRange: "0..<4")) { try make(f, n, w, c, b, [0, 1, 4, 3, 0]) }
        var bad = f
        bad[4] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 1, column: 1)) { try make(bad, n, w, c, b, t) }
        var badW = w
        badW[11] = .infinity
        #expect(throws: FulcrumError.nonFiniteValue(argument: "weights", row: 3, column: 2)) { try make(f, n, badW, c, b, t) }
        #expect(throws: FulcrumError.nonFiniteValue(argument: "bias", row: 2, column: 0)) { try make(f, n, w, c, [0, 0, .nan, 0], t) }
        #expect(throws: FulcrumError.self) { try make(f, n, w, c, b, t, loss: SoftmaxCrossEntropy(zLossCoefficient: 1e-4)) }
        #expect(throws: FulcrumError.self) { try make(f, n, w, c, b, t, loss: SoftmaxCrossEntropy(logitSoftcap: 30)) }
        #expect(throws: FulcrumError.self) { try make(f, n, w, c, b, t, loss: SoftmaxCrossEntropy(focalGamma: 2)) }
        #expect(throws: FulcrumError.self) { try make(f, n, w, c, b, [-100, -100, -100, -100, -100]) }
        #expect(throws: FulcrumError.self) { try make([], 0, w, c, b, []) }
        // A wider matrix: the SIMD screen finds the first non-finite element (row, then column).
        var wide = [Float](repeating: 0.5, count: 100 * 37)
        wide[90 * 37 + 36] = .infinity
        wide[70 * 37 + 20] = .nan
        wide[70 * 37 + 30] = -.infinity
        let wideWeights = [Float](repeating: 0.1, count: 2 * 37)
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 70, column: 20)) {
            try wide.withView(rows: 100, columns: 37) { fv in
                try wideWeights.withView(rows: 2, columns: 37) { wv in
                    try [Int32](repeating: 0, count: 100).withUnsafeBufferPointer {
                        try LinearHeadHessian(features: fv, weights: wv, bias: nil, targets: $0)
                    }
                }
            }
        }
        let op = try problem.hessian(Double.self)
        var x = [Double](repeating: 0, count: op.dimension)
        x[7] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "x", row: 0, column: 7)) { try apply(op, x) }
        #expect(throws: FulcrumError.shapeMismatch(argument: "x", expected: "\(op.dimension)", actual: "3")) { try apply(op, [0.0, 0, 0]) }
    }
}

/// OpenBLAS 0.3.21 sgemm/dgemm results are not bitwise reproducible between 1 and 2 BLAS threads
/// (its edge micro-kernels accumulate in a different order depending on how the threads split
/// the output), so this test varies Fulcrum's own workers with BLAS pinned to one thread: every
/// row pass, bias sum and reduction of the operator must then give bitwise the same outputs.
@Suite(.serialized) struct HessianThreadTests {
    @Test func bitwiseIdenticalWithOneAndTwoThreads() throws {
        let problem = HeadProblem(n: 700, d: 48, c: 40, seed: 13)
        var g = TestRandom(seed: 14)
        let dim = problem.dimension
        let x: [Float] = g.values(2 * dim, -1, 1)
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var outputs: [[Float]] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            openblas_set_num_threads(1)
            let op = try problem.hessian(Float.self)
            var y = [Float](repeating: 0, count: 2 * dim)
            try x.withView(rows: 2, columns: dim) { xv in try y.withMutableView(rows: 2, columns: dim) { try op.apply(xv, into: $0) } }
            var t = [Float](repeating: 0, count: dim)
            try x.withView(rows: 1, columns: dim) { a in
                try t.withUnsafeMutableBufferPointer { try op.thirdDerivative(first: a, second: a, into: $0) }
            }
            outputs.append(y + (try gradient(op)) + t)
        }
        let same = outputs[0] == outputs[1]
        #expect(same)
    }
}
