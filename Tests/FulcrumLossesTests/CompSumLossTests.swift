import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Plain Double comp-sum reference, written from the paper's Φ^τ (no shared code with the kernel).
enum CompSumReference {
    static func row(_ h: [Double], target y: Int, tau: Double, rho: Double, weight: Double) -> Double {
        let z = h.map { $0 / rho }
        let u = z.indices.filter { $0 != y }.reduce(0.0) { $0 + exp(z[$1] - z[y]) }
        let phi = tau == 1 ? log1p(u) : (pow(1 + u, 1 - tau) - 1) / (1 - tau)
        return weight * phi
    }

    static func total(_ x: [Double], rows: Int, classes: Int, targets: [Int32], tau: Double, rho: Double,
                      weights: [Double]?, reduction: Reduction) -> Double {
        var sum = 0.0, weightSum = 0.0
        for n in 0..<rows {
            let y = Int(targets[n])
            let w = weights?[y] ?? 1
            sum += row(Array(x[(n * classes)..<((n + 1) * classes)]), target: y, tau: tau, rho: rho, weight: w)
            weightSum += w
        }
        return reduction == .mean ? sum / weightSum : sum
    }
}

/// Runs a comp-sum loss in T on Double data; returns (loss, gradient, row losses) in Double.
func runCompSum<T: FulcrumFloat>(_ loss: CompSumLoss<T>, _ x: [Double], rows: Int, classes: Int,
                                 targets: [Int32]) throws -> (loss: Double, gradient: [Double], rowLosses: [Double]) {
    let logits = x.map { T($0) }
    var gradient = [T](repeating: -7, count: x.count)
    var rowLosses = [T](repeating: -7, count: rows)
    let result = try logits.withView(rows: rows, columns: classes) { xv in
        try gradient.withMutableView(rows: rows, columns: classes) { gv in
            try targets.withUnsafeBufferPointer { t in
                try rowLosses.withUnsafeMutableBufferPointer { r in
                    try loss.lossAndGradient(logits: xv, targets: t, gradient: gv, rowLosses: r)
                }
            }
        }
    }
    return (Double(result.loss), gradient.map { Double($0) }, rowLosses.map { Double($0) })
}

@Suite("Comp-sum losses (CE, GCE, MAE, sum-exponential) against a Double reference")
struct CompSumLossTests {
    static let taus = [0.0, 0.5, 1.0, 1.3, 1.7, 2.0]

    @Test("Loss matches the reference and the gradient matches finite differences, Float within 1e-5 of Double",
          arguments: [Reduction.none, .sum, .mean])
    func againstReference(reduction: Reduction) throws {
        for (rows, classes) in [(1, 1), (2, 5), (3, 13), (2, 37)] {
            for tau in Self.taus {
                for (rho, weighted) in [(1.0, false), (0.7, true)] {
                    var random = TestRandom(seed: UInt64(rows * 1000 + classes) &+ UInt64(tau * 10))
                    let x = random.values(rows * classes, -3, 3)
                    let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
                    let weights = weighted ? random.values(classes, 0.2, 2) : nil
                    let reference = CompSumReference.total(x, rows: rows, classes: classes, targets: targets, tau: tau,
                                                           rho: rho, weights: weights, reduction: reduction)
                    let fd = finiteDifferences(x) {
                        CompSumReference.total($0, rows: rows, classes: classes, targets: targets, tau: tau, rho: rho,
                                               weights: weights, reduction: reduction)
                    }
                    let double = try runCompSum(CompSumLoss<Double>(tau: tau, rho: rho, classWeights: weights, reduction: reduction),
                                                x, rows: rows, classes: classes, targets: targets)
                    #expect(relativeError(double.loss, reference, floor: 1e-12) <= 1e-12, "τ \(tau) \(rows)x\(classes)")
                    #expect(maxRelativeError(double.gradient, fd, floor: 1e-9) <= 1e-6, "τ \(tau) \(rows)x\(classes)")
                    let float = try runCompSum(CompSumLoss<Float>(tau: Float(tau), rho: Float(rho),
                                                                  classWeights: weights?.map { Float($0) }, reduction: reduction),
                                               x, rows: rows, classes: classes, targets: targets)
                    #expect(relativeError(float.loss, double.loss, floor: 1e-6) <= 1e-5, "τ \(tau) \(rows)x\(classes)")
                    #expect(maxRelativeError(float.gradient, double.gradient, floor: 1e-6) <= 1e-5)
                }
            }
        }
    }

    @Test("GCE tends to CE as q → 0, equals MAE at q = 1; CE equals the plain softmax cross-entropy kernel")
    func identities() throws {
        var random = TestRandom(seed: 5)
        let (rows, classes) = (4, 11)
        let x = random.values(rows * classes, -4, 4)
        let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
        let ce = try runCompSum(CompSumLoss<Double>.crossEntropy(), x, rows: rows, classes: classes, targets: targets)
        let plain = try runCompSum(CompSumLoss<Double>(tau: 1), x, rows: rows, classes: classes, targets: targets)
        #expect(ce.loss == plain.loss)
        // GCE(q) = CE − q·CE²/2 + O(q²) per row, so q = 1e-7 is within 1e-6 relative of CE.
        let small = try runCompSum(try CompSumLoss<Double>.generalizedCrossEntropy(q: 1e-7), x, rows: rows, classes: classes, targets: targets)
        #expect(relativeError(small.loss, ce.loss) <= 1e-6)
        #expect(maxRelativeError(small.gradient, ce.gradient) <= 1e-6)
        let gce1 = try runCompSum(try CompSumLoss<Double>.generalizedCrossEntropy(q: 1), x, rows: rows, classes: classes, targets: targets)
        let mae = try runCompSum(CompSumLoss<Double>.meanAbsoluteError(), x, rows: rows, classes: classes, targets: targets)
        #expect(gce1.loss == mae.loss && gce1.gradient == mae.gradient)
        // MAE = 1 − p_y directly from the softmax.
        var expected = 0.0
        for n in 0..<rows {
            let row = Array(x[(n * classes)..<((n + 1) * classes)])
            expected += 1 - exp(row[Int(targets[n])] - logSumExp(row))
        }
        #expect(relativeError(mae.loss, expected / Double(rows)) <= 1e-13)
        // The CE kernel itself.
        let kernel = try runCrossEntropyKernel(x, rows: rows, classes: classes, targets: targets)
        #expect(relativeError(ce.loss, kernel.loss) <= 1e-15)
        #expect(maxRelativeError(ce.gradient, kernel.gradient) <= 1e-15)
    }

    @Test("A confident row keeps the relative accuracy of tiny losses")
    func confidentRow() throws {
        // Row (30, 0, 0): u = 2·e^{−30} ≈ 1.87e-13; every Φ^τ(u) = u − τ·u²/2 + … ≈ u.
        let x: [Double] = [30, 0, 0]
        let u = 2 * exp(-30.0)
        for tau in Self.taus {
            let r = try runCompSum(CompSumLoss<Float>(tau: Float(tau)), x, rows: 1, classes: 3, targets: [0])
            #expect(relativeError(r.loss, u) <= 1e-5, "τ \(tau)")
        }
    }

    @Test("Bad parameters throw naming the argument")
    func badParameters() throws {
        for q in [0.0, -0.5, 1.5, .nan] as [Float] {
            #expect(thrownArgument { _ = try CompSumLoss<Float>.generalizedCrossEntropy(q: q) } == "q")
        }
        let x: [Float] = [1, 2, 3]
        for (loss, name) in [(CompSumLoss<Float>(tau: -1), "tau"), (CompSumLoss<Float>(tau: 1, rho: 0), "rho"),
                             (CompSumLoss<Float>(tau: 1, classWeights: [1, 2]), "classWeights")] {
            #expect(thrownArgument {
                _ = try x.withView(rows: 1, columns: 3) { xv in
                    try [Int32(0)].withUnsafeBufferPointer { try loss.loss(logits: xv, targets: $0) }
                }
            } == name)
        }
    }

    @Test("Smooth adversarial comp-sum: reference and finite differences for both logit sets")
    func smoothAdversarial() throws {
        let (rows, classes) = (3, 7)
        var random = TestRandom(seed: 21)
        let x = random.values(rows * classes, -2, 2)
        let xa = x.map { $0 + random.uniform(-0.5, 0.5) }
        let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
        let (tau, rho, nu) = (1.5, 0.8, 0.3)
        func reference(_ h: [Double], _ ha: [Double]) -> Double {
            var total = 0.0
            for n in 0..<rows {
                let y = n * classes + Int(targets[n])
                total += CompSumReference.row(Array(h[(n * classes)..<((n + 1) * classes)]), target: Int(targets[n]),
                                              tau: tau, rho: rho, weight: 1)
                var squares = 0.0
                for j in (n * classes)..<((n + 1) * classes) where j != y {
                    let change = (ha[y] - ha[j]) - (h[y] - h[j])
                    squares += change * change
                }
                total += nu * squares.squareRoot()
            }
            return total / Double(rows)
        }
        func run<T: FulcrumFloat>(_: T.Type) throws -> (Double, [Double], [Double]) {
            let loss = SmoothAdversarialCompSumLoss<T>(compSum: CompSumLoss(tau: T(tau), rho: T(rho)), nu: T(nu))
            let (h, ha) = (x.map { T($0) }, xa.map { T($0) })
            var g = [T](repeating: 0, count: x.count), ga = g
            let r = try h.withView(rows: rows, columns: classes) { hv in
                try ha.withView(rows: rows, columns: classes) { hav in
                    try g.withMutableView(rows: rows, columns: classes) { gv in
                        try ga.withMutableView(rows: rows, columns: classes) { gav in
                            try targets.withUnsafeBufferPointer {
                                try loss.lossAndGradient(logits: hv, adversarialLogits: hav, targets: $0, gradient: gv, adversarialGradient: gav)
                            }
                        }
                    }
                }
            }
            return (Double(r.loss), g.map { Double($0) }, ga.map { Double($0) })
        }
        let (loss, g, ga) = try run(Double.self)
        #expect(relativeError(loss, reference(x, xa)) <= 1e-12)
        #expect(maxRelativeError(g, finiteDifferences(x) { reference($0, xa) }) <= 1e-6)
        #expect(maxRelativeError(ga, finiteDifferences(xa) { reference(x, $0) }) <= 1e-6)
        let (lossF, gF, gaF) = try run(Float.self)
        #expect(relativeError(lossF, loss) <= 1e-5)
        #expect(maxRelativeError(gF, g) <= 1e-5 && maxRelativeError(gaF, ga) <= 1e-5)
        #expect(thrownArgument {
            _ = try SmoothAdversarialCompSumLoss<Double>(compSum: .crossEntropy(), nu: -1)
                .lossAndGradient(logits: MatrixView(unchecked: nil, rows: 0, columns: 0, rowStride: 0),
                                 adversarialLogits: MatrixView(unchecked: nil, rows: 0, columns: 0, rowStride: 0),
                                 targets: UnsafeBufferPointer(start: nil, count: 0),
                                 gradient: MutableMatrixView(unchecked: nil, rows: 0, columns: 0, rowStride: 0),
                                 adversarialGradient: MutableMatrixView(unchecked: nil, rows: 0, columns: 0, rowStride: 0))
        } == "nu")
    }
}

/// The plain kernel's loss and gradient (mean reduction), for identity checks.
func runCrossEntropyKernel(_ x: [Double], rows: Int, classes: Int, targets: [Int32]) throws -> (loss: Double, gradient: [Double]) {
    var gradient = [Double](repeating: 0, count: x.count)
    let result = try x.withView(rows: rows, columns: classes) { xv in
        try gradient.withMutableView(rows: rows, columns: classes) { gv in
            try targets.withUnsafeBufferPointer { try SoftmaxCrossEntropy<Double>().lossAndGradient(logits: xv, targets: $0, gradient: gv) }
        }
    }
    return (result.loss, gradient)
}
