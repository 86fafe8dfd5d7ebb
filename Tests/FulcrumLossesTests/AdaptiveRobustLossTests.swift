import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Plain Double reference of one ALDR-KL step, from the definitions: q at the stored λ, the
/// closed-form λ step, the LDR-KL loss at the new λ minus the penalty.
enum AdaptiveReference {
    static func gaps(_ s: [Double], target y: Int, margin: Double) -> [Double] {
        s.indices.map { s[$0] + ($0 == y ? 0 : margin) - s[y] }
    }

    /// KL(softmax(gaps/λ) ‖ uniform) = Σ q_k·log(K·q_k).
    static func divergence(_ gaps: [Double], lambda: Double) -> Double {
        let z = gaps.map { $0 / lambda }, lse = logSumExp(z), k = Double(gaps.count)
        return z.reduce(0) { acc, v in
            let q = exp(v - lse)
            return acc + (q > 0 ? q * log(k * q) : 0)
        }
    }

    /// (new λ, ℓ with the penalty) for one row.
    static func step(_ s: [Double], target y: Int, stored: Double, base: Double, alpha: Double, margin: Double) -> (Double, Double) {
        let a = gaps(s, target: y, margin: margin), logK = log(Double(s.count))
        guard s.count > 1 else { return (base, 0) }
        let lambda = base * (1 - divergence(a, lambda: stored) / (alpha * logK))
        return (lambda, penalized(s, target: y, lambda: lambda, base: base, alpha: alpha, margin: margin))
    }

    /// LDR-KL at λ minus (α·log K/(2λ₀))·(λ − λ₀)².
    static func penalized(_ s: [Double], target y: Int, lambda: Double, base: Double, alpha: Double, margin: Double) -> Double {
        let logK = log(Double(s.count))
        return RobustReference.ldr(s, target: y, lambda: lambda, margin: margin) - alpha * logK / (2 * base) * pow(lambda - base, 2)
    }
}

@Suite("ALDR-KL: the per-instance temperature update")
struct AdaptiveRobustLossTests {
    func run<T: FulcrumFloat>(_ loss: LabelDistributionallyRobustLoss<T>, _ x: [Double], rows: Int, classes: Int, targets: [Int32],
                              temperatures: inout [Double], alpha: Double) throws -> (Double, [Double]) {
        let xt = x.map { T($0) }
        var lt = temperatures.map { T($0) }
        var g = [T](repeating: -7, count: x.count)
        let value = try xt.withView(rows: rows, columns: classes) { xv in
            try targets.withUnsafeBufferPointer { t in
                try g.withMutableView(rows: rows, columns: classes) { gv in
                    try lt.withUnsafeMutableBufferPointer {
                        try loss.adaptiveLossAndGradient(logits: xv, targets: t, gradient: gv, instanceTemperatures: $0, alpha: T(alpha))
                    }
                }
            }
        }
        temperatures = lt.map { Double($0) }
        return (Double(value), g.map { Double($0) })
    }

    @Test("One step against the Double reference; the gradient against finite differences at the new λ; Float within 1e-5",
          arguments: [Reduction.none, .sum, .mean])
    func againstReference(reduction: Reduction) throws {
        for (rows, classes) in [(1, 1), (2, 5), (3, 17), (2, 700)] {
            for (base, margin, alpha) in [(1.0, 0.0, 2.0), (0.5, 0.3, 1.5), (2.0, 1.0, 8.0)] {
                var random = TestRandom(seed: UInt64(rows * 13 + classes))
                let x = random.values(rows * classes, -3, 3)
                var targets = (0..<rows).map { _ in Int32(random.below(classes)) }
                if rows > 2 { targets[1] = -100 }
                let stored = random.values(rows, 0.3 * base, base)
                var updated = stored
                let (loss, g) = try run(LabelDistributionallyRobustLoss<Double>(lambda: base, margin: margin, reduction: reduction),
                                        x, rows: rows, classes: classes, targets: targets, temperatures: &updated, alpha: alpha)
                var expected = stored
                let reference = RobustReference.total(x, classes: classes, targets: targets, reduction: reduction) { row, y, n in
                    let (lambda, value) = AdaptiveReference.step(row, target: y, stored: stored[n], base: base, alpha: alpha, margin: margin)
                    expected[n] = lambda
                    return value
                }
                #expect(abs(loss - reference) <= 1e-12 * max(1, abs(reference)), "\(rows)x\(classes) λ₀ \(base)")
                #expect(maxRelativeError(updated, expected) <= 1e-13)
                // Every updated λ lies in [λ₀·(1 − 1/α), λ₀]; ignored rows keep theirs.
                for n in 0..<rows {
                    if targets[n] == -100 {
                        #expect(updated[n] == stored[n])
                    } else {
                        #expect(updated[n] >= base * (1 - 1 / alpha) && updated[n] <= base)
                    }
                }
                // The gradient is that of the penalised loss with the new λ held fixed.
                let fixed = { (v: [Double]) in
                    RobustReference.total(v, classes: classes, targets: targets, reduction: reduction) { row, y, n in
                        AdaptiveReference.penalized(row, target: y, lambda: expected[n], base: base, alpha: alpha, margin: margin)
                    }
                }
                if rows * classes <= 100 {
                    #expect(maxRelativeError(g, finiteDifferences(x, fixed), floor: 1e-9) <= 1e-6)
                }
                var updatedF = stored
                let (lossF, gF) = try run(LabelDistributionallyRobustLoss<Float>(lambda: Float(base), margin: Float(margin), reduction: reduction),
                                          x, rows: rows, classes: classes, targets: targets, temperatures: &updatedF, alpha: alpha)
                #expect(abs(lossF - loss) <= 1e-5 * max(1, abs(loss)))
                #expect(maxRelativeError(gF, g, floor: 1e-6) <= 1e-5 && maxRelativeError(updatedF, updated) <= 1e-5)
            }
        }
    }

    @Test("Repeated steps reach a λ where the penalised loss is stationary in λ (the maximiser of the paper's objective)")
    func fixedPoint() throws {
        var random = TestRandom(seed: 77)
        let (rows, classes, base, alpha, margin) = (3, 11, 1.0, 3.0, 0.2)
        let x = random.values(rows * classes, -4, 4)
        let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
        var lambdas = [Double](repeating: base, count: rows)
        let loss = LabelDistributionallyRobustLoss<Double>(lambda: base, margin: margin)
        for _ in 0..<200 { _ = try run(loss, x, rows: rows, classes: classes, targets: targets, temperatures: &lambdas, alpha: alpha) }
        for n in 0..<rows {
            let row = Array(x[(n * classes)..<((n + 1) * classes)]), y = Int(targets[n])
            // d/dλ [LDR-KL_λ − penalty(λ)] by central differences at the fixed point: 0.
            let h = 1e-6
            let slope = (AdaptiveReference.penalized(row, target: y, lambda: lambdas[n] + h, base: base, alpha: alpha, margin: margin)
                - AdaptiveReference.penalized(row, target: y, lambda: lambdas[n] - h, base: base, alpha: alpha, margin: margin)) / (2 * h)
            #expect(abs(slope) <= 1e-8, "row \(n): λ = \(lambdas[n])")
            #expect(lambdas[n] < base)
        }
    }

    @Test("Ignored rows keep their λ and get a zero gradient; one class keeps λ₀ with zero loss; bad input throws")
    func edgesAndErrors() throws {
        var lambdas = [0.7, 0.4]
        let (_, g) = try run(LabelDistributionallyRobustLoss<Double>(lambda: 1, reduction: .sum), [1, 2, 3, 4, 5, 6], rows: 2, classes: 3,
                             targets: [-100, 2], temperatures: &lambdas, alpha: 2)
        #expect(lambdas[0] == 0.7 && g[0..<3].allSatisfy { $0 == 0 })
        var single = [0.3]
        let (value, g1) = try run(LabelDistributionallyRobustLoss<Double>(lambda: 1), [5], rows: 1, classes: 1, targets: [0],
                                  temperatures: &single, alpha: 2)
        #expect(single == [1] && value == 0 && g1 == [0])
        func attempt(alpha: Double, temperatures: [Double] = [1, 1], values: [Double] = [1, 2, 3, 4]) -> String? {
            var t = temperatures
            return thrownArgument {
                _ = try run(LabelDistributionallyRobustLoss<Double>(), values, rows: 2, classes: 2, targets: [0, 1], temperatures: &t, alpha: alpha)
            }
        }
        #expect(attempt(alpha: 1) == "alpha")
        #expect(attempt(alpha: .nan) == "alpha")
        #expect(attempt(alpha: 2, temperatures: [1, -1]) == "instanceTemperatures[1]")
        #expect(attempt(alpha: 2, temperatures: [1]) == "instanceTemperatures")
        #expect(attempt(alpha: 2, values: [1, 2, .infinity, 4]) == "logits")
    }
}
