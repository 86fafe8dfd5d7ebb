import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Rows longer than one 512-element chunk, whose chunks have very different maxima (one chunk
/// far above the others, one whose exponentials all underflow against the row maximum), and a
/// tail that is not a whole vector: the chunk records must combine to the plain Double reference.
@Suite("Chunked rows: distillation and LDR-KL on long rows against the Double reference")
struct LongRowTests {
    static let (rows, classes) = (2, 1300)  // 2·512 + 276 columns, 276 = 34·8 + 4

    /// Values in [−3, 3] with the second chunk raised by `lift` and the third lowered by 120·T.
    static func data(seed: UInt64, lift: Double) -> [Double] {
        var random = TestRandom(seed: seed)
        return (0..<(rows * classes)).map { i in
            let j = i % classes
            return random.uniform(-3, 3) + (j >= 512 && j < 1024 ? lift : 0) - (j >= 1024 ? 120 : 0)
        }
    }

    @Test("Distillation: every balance, loss and gradient")
    func distillation() throws {
        let s = Self.data(seed: 5, lift: 9), t = Self.data(seed: 6, lift: 4)
        for balance in DistillationLossTests.balances {
            let loss = DistillationLoss<Double>(temperature: 2, balance: balance, reduction: .sum)
            let reference = { (x: [Double]) in
                DistillationReference.total(student: x, teacher: t, rows: Self.rows, classes: Self.classes, ts: 2, tt: 2,
                                            squared: true, balance: balance, reduction: .sum)
            }
            let r = try runDistillation(loss, student: s, teacher: t, rows: Self.rows, classes: Self.classes)
            #expect(relativeError(r.result.loss, reference(s)) <= 1e-11, "\(balance)")
            #expect(maxRelativeError(r.gradient, finiteDifferences(s, reference), floor: 1e-9) <= 1e-6, "\(balance)")
            let f = try runDistillation(DistillationLoss<Float>(temperature: 2, balance: balance, reduction: .sum),
                                        student: s, teacher: t, rows: Self.rows, classes: Self.classes)
            #expect(relativeError(Double(f.result.loss), r.result.loss) <= 1e-5)
            #expect(maxRelativeError(f.gradient, r.gradient, floor: 1e-6) <= 1e-5)
        }
        let same = try runDistillation(DistillationLoss<Float>(temperature: 3, balance: .entropyGap(amplification: 2)),
                                       student: s, teacher: s, rows: Self.rows, classes: Self.classes)
        #expect(same.result.loss == 0 && same.gradient.allSatisfy { $0 == 0 })
    }

    @Test("LDR-KL: loss, score gradient and λ gradient")
    func labelDistributionallyRobust() throws {
        let x = Self.data(seed: 7, lift: 6)
        // One target in the raised chunk, one in the lowered chunk (its score is far below the maximum).
        let targets: [Int32] = [700, 1200]
        for (lambda, margin) in [(0.5, 0.3), (2.0, 0.0)] {
            let reference = { (v: [Double], ls: [Double]) in
                RobustReference.total(v, classes: Self.classes, targets: targets, reduction: .sum) { row, y, n in
                    RobustReference.ldr(row, target: y, lambda: ls[n], margin: margin)
                }
            }
            let lambdas = [lambda, lambda]
            var g = [Double](repeating: 0, count: x.count), gl = [0.0, 0.0]
            let value = try x.withView(rows: Self.rows, columns: Self.classes) { xv in
                try targets.withUnsafeBufferPointer { t in
                    try g.withMutableView(rows: Self.rows, columns: Self.classes) { gv in
                        try gl.withUnsafeMutableBufferPointer {
                            try LabelDistributionallyRobustLoss<Double>(lambda: lambda, margin: margin, reduction: .sum)
                                .lossAndGradient(logits: xv, targets: t, gradient: gv, temperatureGradients: $0)
                        }
                    }
                }
            }
            #expect(relativeError(value, reference(x, lambdas)) <= 1e-12)
            #expect(maxRelativeError(g, finiteDifferences(x) { reference($0, lambdas) }) <= 1e-6)
            #expect(maxRelativeError(gl, finiteDifferences(lambdas) { reference(x, $0) }, floor: 1e-9) <= 1e-6)
        }
    }
}
