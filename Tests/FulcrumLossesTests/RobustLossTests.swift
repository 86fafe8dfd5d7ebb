import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Plain Double references for LDR-KL and the Z-loss, from the papers' definitions.
enum RobustReference {
    static func ldr(_ s: [Double], target y: Int, lambda: Double, margin: Double) -> Double {
        let gaps = s.indices.map { (s[$0] + ($0 == y ? 0 : margin) - s[y]) / lambda }
        return lambda * (logSumExp(gaps) - log(Double(s.count)))
    }

    static func zLoss(_ o: [Double], target y: Int, a: Double, b: Double) -> Double {
        let mean = o.reduce(0, +) / Double(o.count)
        let sigma = (o.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(o.count)).squareRoot()
        let z = sigma > 0 ? (o[y] - mean) / sigma : 0
        return log1p(exp(a * (b - z))) / a
    }

    static func total(_ x: [Double], classes: Int, targets: [Int32], reduction: Reduction, _ row: ([Double], Int, Int) -> Double) -> Double {
        var sum = 0.0, counted = 0
        for n in targets.indices where targets[n] != -100 {
            sum += row(Array(x[(n * classes)..<((n + 1) * classes)]), Int(targets[n]), n)
            counted += 1
        }
        return reduction == .mean ? sum / Double(counted) : sum
    }
}

@Suite("LDR-KL (and per-instance λ) and the spherical Z-loss")
struct RobustLossTests {
    func runLDR<T: FulcrumFloat>(_ loss: LabelDistributionallyRobustLoss<T>, _ x: [Double], rows: Int, classes: Int, targets: [Int32],
                                 lambdas: [Double]?) throws -> (Double, [Double], [Double]) {
        let xt = x.map { T($0) }, lt = lambdas?.map { T($0) }
        var g = [T](repeating: -7, count: x.count), gl = [T](repeating: -7, count: rows)
        let value = try xt.withView(rows: rows, columns: classes) { xv in
            try targets.withUnsafeBufferPointer { t in
                try g.withMutableView(rows: rows, columns: classes) { gv in
                    try gl.withUnsafeMutableBufferPointer { glp in
                        if let lt {
                            return try lt.withUnsafeBufferPointer {
                                try loss.lossAndGradient(logits: xv, targets: t, gradient: gv, instanceTemperatures: $0, temperatureGradients: glp)
                            }
                        }
                        return try loss.lossAndGradient(logits: xv, targets: t, gradient: gv, temperatureGradients: glp)
                    }
                }
            }
        }
        return (Double(value), g.map { Double($0) }, gl.map { Double($0) })
    }

    @Test("LDR-KL: reference, finite differences in scores and in each λ_i, Float within 1e-5 of Double",
          arguments: [Reduction.none, .sum, .mean])
    func ldrAgainstReference(reduction: Reduction) throws {
        for (rows, classes) in [(1, 1), (2, 4), (3, 13), (2, 29)] {
            for (lambda, margin, perInstance) in [(1.0, 0.0, false), (0.3, 0.5, false), (2.0, 1.0, true)] {
                var random = TestRandom(seed: UInt64(rows * 31 + classes))
                let x = random.values(rows * classes, -3, 3)
                var targets = (0..<rows).map { _ in Int32(random.below(classes)) }
                if rows > 2 { targets[1] = -100 }
                let lambdas = perInstance ? random.values(rows, 0.2, 3) : nil
                func reference(_ v: [Double], _ ls: [Double]?) -> Double {
                    RobustReference.total(v, classes: classes, targets: targets, reduction: reduction) { row, y, n in
                        RobustReference.ldr(row, target: y, lambda: ls?[n] ?? lambda, margin: margin)
                    }
                }
                let (loss, g, gl) = try runLDR(LabelDistributionallyRobustLoss<Double>(lambda: lambda, margin: margin, reduction: reduction),
                                               x, rows: rows, classes: classes, targets: targets, lambdas: lambdas)
                #expect(abs(loss - reference(x, lambdas)) <= 1e-12 * max(1, abs(loss)))
                #expect(maxRelativeError(g, finiteDifferences(x) { reference($0, lambdas) }) <= 1e-6)
                let ls = lambdas ?? [Double](repeating: lambda, count: rows)
                #expect(maxRelativeError(gl, finiteDifferences(ls) { reference(x, $0) }, floor: 1e-9) <= 1e-6)
                let (lossF, gF, _) = try runLDR(LabelDistributionallyRobustLoss<Float>(lambda: Float(lambda), margin: Float(margin), reduction: reduction),
                                                x, rows: rows, classes: classes, targets: targets, lambdas: lambdas)
                #expect(abs(lossF - loss) <= 1e-5 * max(1, abs(loss)) && maxRelativeError(gF, g) <= 1e-5)
            }
        }
    }

    @Test("LDR-KL identities: λ = 1, c = 0 is CE − log K; small λ tends to the top-1 hinge")
    func ldrIdentities() throws {
        var random = TestRandom(seed: 41)
        let (rows, classes) = (3, 9)
        let x = random.values(rows * classes, -3, 3)
        let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
        let (ldr, g, _) = try runLDR(LabelDistributionallyRobustLoss<Double>(), x, rows: rows, classes: classes, targets: targets, lambdas: nil)
        let ce = try runCrossEntropyKernel(x, rows: rows, classes: classes, targets: targets)
        #expect(abs(ldr - (ce.loss - log(Double(classes)))) <= 1e-14)
        #expect(maxRelativeError(g, ce.gradient) <= 1e-14)
        // λ = 1e-3, c = 0.5: ℓ = max_k(s_k + c[k≠y]) − s_y + O(λ·log K).
        let (hingeLike, _, _) = try runLDR(LabelDistributionallyRobustLoss<Double>(lambda: 1e-3, margin: 0.5), x, rows: rows, classes: classes,
                                           targets: targets, lambdas: nil)
        var hinge = 0.0
        for n in 0..<rows {
            let y = Int(targets[n])
            hinge += (0..<classes).map { x[n * classes + $0] + ($0 == y ? 0 : 0.5) }.max()! - x[n * classes + y]
        }
        // 0 ≤ ℓ − (hinge − λ·log K) ≤ λ·log K for every row, so |ℓ − hinge| ≤ λ·log K (+ rounding).
        #expect(abs(hingeLike - hinge / Double(rows)) <= 1e-3 * log(Double(classes)) + 1e-12)
    }

    func runZ<T: FulcrumFloat>(_ loss: SphericalZLoss<T>, _ x: [Double], rows: Int, classes: Int, targets: [Int32]) throws -> (Double, [Double]) {
        let xt = x.map { T($0) }
        var g = [T](repeating: -7, count: x.count)
        let value = try xt.withView(rows: rows, columns: classes) { xv in
            try targets.withUnsafeBufferPointer { t in
                try g.withMutableView(rows: rows, columns: classes) { try loss.lossAndGradient(logits: xv, targets: t, gradient: $0) }
            }
        }
        return (Double(value), g.map { Double($0) })
    }

    @Test("Z-loss: reference, finite differences, Float within 1e-5 of Double", arguments: [Reduction.none, .sum, .mean])
    func zLossAgainstReference(reduction: Reduction) throws {
        for (rows, classes) in [(1, 3), (2, 5), (3, 17), (2, 33)] {
            for (a, b) in [(1.0, 0.0), (0.5, 2.0), (3.0, -1.0)] {
                var random = TestRandom(seed: UInt64(rows * 7 + classes))
                let x = random.values(rows * classes, -3, 3)
                var targets = (0..<rows).map { _ in Int32(random.below(classes)) }
                if rows > 2 { targets[2] = -100 }
                let reference = { (v: [Double]) in
                    RobustReference.total(v, classes: classes, targets: targets, reduction: reduction) { row, y, _ in
                        RobustReference.zLoss(row, target: y, a: a, b: b)
                    }
                }
                let (loss, g) = try runZ(SphericalZLoss<Double>(a: a, b: b, reduction: reduction), x, rows: rows, classes: classes, targets: targets)
                #expect(relativeError(loss, reference(x)) <= 1e-12)
                #expect(maxRelativeError(g, finiteDifferences(x, reference)) <= 1e-6)
                let (lossF, gF) = try runZ(SphericalZLoss<Float>(a: Float(a), b: Float(b), reduction: reduction), x, rows: rows, classes: classes, targets: targets)
                #expect(relativeError(lossF, loss) <= 1e-5 && maxRelativeError(gF, g, floor: 1e-6) <= 1e-5)
            }
        }
    }

    @Test("Z-loss is invariant to shifting and scaling the outputs; a constant row has a zero gradient")
    func zLossInvariance() throws {
        var random = TestRandom(seed: 43)
        let (rows, classes) = (4, 12)
        let x = random.values(rows * classes, -2, 2)
        let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
        let loss = SphericalZLoss<Double>(a: 1.5, b: 1)
        let (base, g) = try runZ(loss, x, rows: rows, classes: classes, targets: targets)
        let (moved, gm) = try runZ(loss, x.map { 3.5 * $0 - 7 }, rows: rows, classes: classes, targets: targets)
        #expect(relativeError(moved, base) <= 1e-13)
        #expect(maxRelativeError(gm.map { 3.5 * $0 }, g) <= 1e-12)
        let (flat, gf) = try runZ(loss, [2, 2, 2], rows: 1, classes: 3, targets: [1])
        #expect(relativeError(flat, log1p(exp(1.5)) / 1.5) <= 1e-15 && gf == [0, 0, 0])
        // C = 2 standardises every row to z = ±1: the loss is constant, the gradient
        // (r/σ)·(1/2 + z_y·z_j/2) − (r/σ)·δ_jy vanishes (up to rounding).
        let (_, g2) = try runZ(loss, [0.3, -1.2, 4, 2], rows: 2, classes: 2, targets: [0, 0])
        #expect(g2.allSatisfy { abs($0) <= 1e-15 })
    }

    @Test("Z-loss rows of several 512-element chunks, with a mean far from zero: the merged moments match the reference")
    func zLossLongRows() throws {
        // 1500 and 2100 classes: full chunks and a tail; values 40 ± 3, so the chunk means and the
        // row mean differ from each other by far less than they differ from zero.
        for classes in [1500, 2100] {
            var random = TestRandom(seed: UInt64(classes))
            let rows = 2
            var x = random.values(rows * classes, 37, 43)
            // The second row's last chunk sits higher: the chunks' means differ by much more than σ within a chunk.
            for j in 1024..<classes { x[classes + j] += 5 }
            let targets: [Int32] = [0, Int32(classes - 1)]
            let reference = { (v: [Double]) in
                RobustReference.total(v, classes: classes, targets: targets, reduction: .sum) { row, y, _ in
                    RobustReference.zLoss(row, target: y, a: 1.5, b: 0.5)
                }
            }
            let (loss, g) = try runZ(SphericalZLoss<Double>(a: 1.5, b: 0.5, reduction: .sum), x, rows: rows, classes: classes, targets: targets)
            #expect(relativeError(loss, reference(x)) <= 1e-12)
            #expect(maxRelativeError(g, finiteDifferences(x, reference)) <= 1e-6)
            let (lossF, gF) = try runZ(SphericalZLoss<Float>(a: 1.5, b: 0.5, reduction: .sum), x, rows: rows, classes: classes, targets: targets)
            // Float against Double on the Float-rounded inputs.
            let (lossRounded, gRounded) = try runZ(SphericalZLoss<Double>(a: 1.5, b: 0.5, reduction: .sum), x.map { Double(Float($0)) },
                                                   rows: rows, classes: classes, targets: targets)
            #expect(relativeError(lossF, lossRounded) <= 1e-5 && maxRelativeError(gF, gRounded, floor: 1e-6) <= 1e-5)
        }
    }

    @Test("Z-loss of huge finite logits, whose sums overflow T, is the loss of the unscaled row")
    func zLossHugeLogits() throws {
        var random = TestRandom(seed: 77)
        let (rows, classes) = (3, 700)
        let x = random.values(rows * classes, -2, 2)
        let targets: [Int32] = [5, 699, 300]
        let (base, g) = try runZ(SphericalZLoss<Double>(a: 1, b: 1), x, rows: rows, classes: classes, targets: targets)
        // Float squares overflow past about 1.8e19, Float sums of 512 values past about 6.6e35;
        // Double squares past about 1.3e154.
        for factor in [1e20, 1e36, 1.5e38] {
            let (lossF, gF) = try runZ(SphericalZLoss<Float>(a: 1, b: 1), x.map { $0 * factor }, rows: rows, classes: classes, targets: targets)
            #expect(relativeError(lossF, base) <= 1e-5, "factor \(factor)")
            #expect(maxRelativeError(gF.map { $0 * factor }, g, floor: 1e-6) <= 1e-4, "factor \(factor)")
        }
        for factor in [1e160, 1e300] {
            let (loss, gd) = try runZ(SphericalZLoss<Double>(a: 1, b: 1), x.map { $0 * factor }, rows: rows, classes: classes, targets: targets)
            #expect(relativeError(loss, base) <= 1e-12, "factor \(factor)")
            #expect(maxRelativeError(gd.map { $0 * factor }, g) <= 1e-10, "factor \(factor)")
        }
        // Still a non-finite value in a huge row is named where it is.
        var bad = x.map { Float($0 * 1e30) }
        bad[classes + 600] = .infinity
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: 1, column: 600)) {
            try bad.withView(rows: rows, columns: classes) { xv in
                try targets.withUnsafeBufferPointer { _ = try SphericalZLoss<Float>(a: 1, b: 1).loss(logits: xv, targets: $0) }
            }
        }
    }

    @Test("Z-loss of a nearly constant row: its steep gradient fits Float and matches Double")
    func zLossNearlyConstantRows() throws {
        // σ ≈ 1.6e-20: the gradient (≈ r/σ) fits in Float, but r·z_y/(σ²·C) ≈ 7e38, which the
        // gradient once went through, does not. Float against Double on the same Float inputs.
        let x = [0, 4e-20, 2e-20].map { Double(Float($0)) }
        let (loss, g) = try runZ(SphericalZLoss<Double>(a: 1, b: 1), x, rows: 1, classes: 3, targets: [1])
        let (lossF, gF) = try runZ(SphericalZLoss<Float>(a: 1, b: 1), x, rows: 1, classes: 3, targets: [1])
        #expect(g.allSatisfy { $0.isFinite } && g.contains { abs($0) > 1e18 })
        #expect(relativeError(lossF, loss) <= 1e-5 && maxRelativeError(gF, g) <= 1e-5)
    }

    @Test("Bad parameters throw naming the argument")
    func badInput() throws {
        let x: [Double] = [1, 2, 3, 4]
        func ldr(_ loss: LabelDistributionallyRobustLoss<Double>, lambdas: [Double]? = nil, targets: [Int32] = [0, 1]) -> String? {
            thrownArgument {
                _ = try x.withView(rows: 2, columns: 2) { xv in try targets.withUnsafeBufferPointer { t in
                    if let lambdas { return try lambdas.withUnsafeBufferPointer { try loss.loss(logits: xv, targets: t, instanceTemperatures: $0) } }
                    return try loss.loss(logits: xv, targets: t)
                } }
            }
        }
        #expect(ldr(LabelDistributionallyRobustLoss(lambda: 0)) == "lambda")
        #expect(ldr(LabelDistributionallyRobustLoss(lambda: -1)) == "lambda")
        #expect(ldr(LabelDistributionallyRobustLoss(margin: -1)) == "margin")
        #expect(ldr(LabelDistributionallyRobustLoss(), lambdas: [1, 0]) == "instanceTemperatures[1]")
        #expect(ldr(LabelDistributionallyRobustLoss(), lambdas: [1]) == "instanceTemperatures")
        #expect(ldr(LabelDistributionallyRobustLoss(), targets: [0, 2]) == "targets")
        #expect(ldr(LabelDistributionallyRobustLoss(), targets: [-100, -100]) == "targets")
        func z(_ loss: SphericalZLoss<Double>) -> String? {
            thrownArgument { _ = try x.withView(rows: 2, columns: 2) { xv in try [Int32(0), 1].withUnsafeBufferPointer { try loss.loss(logits: xv, targets: $0) } } }
        }
        #expect(z(SphericalZLoss(a: 0, b: 1)) == "a")
        #expect(z(SphericalZLoss(a: 1, b: .infinity)) == "b")
        let bad: [Double] = [1, .nan, 3, 4]
        #expect(thrownArgument { _ = try bad.withView(rows: 2, columns: 2) { xv in
            try [Int32(0), 1].withUnsafeBufferPointer { try SphericalZLoss<Double>(a: 1, b: 0).loss(logits: xv, targets: $0) } } } == "logits")
    }
}
