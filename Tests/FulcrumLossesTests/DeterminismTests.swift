import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Every loss, run with 1 and then 2 threads on a shape of several row blocks: bitwise equal.
@Suite("Losses are bitwise identical with 1 and 2 threads", .serialized)
struct DeterminismTests {
    static let (rows, classes) = (96, 700)

    static func data(_ seed: UInt64) -> (x: [Float], t: [Float], targets: [Int32]) {
        var random = TestRandom(seed: seed)
        return (random.values(rows * classes, -5, 5).map { Float($0) }, random.values(rows * classes, -5, 5).map { Float($0) },
                (0..<rows).map { _ in Int32(random.below(classes)) })
    }

    /// Runs `body(x, t, targets, gradient)` with 1 and 2 threads; expects equal scalars and gradients.
    func check(_ name: String, _ body: (MatrixView<Float>, MatrixView<Float>, UnsafeBufferPointer<Int32>, MutableMatrixView<Float>) throws -> Float) throws {
        let (x, t, targets) = Self.data(51)
        let runs = try withOneAndTwoThreads { () throws -> (Float, [Float]) in
            var g = [Float](repeating: 0, count: x.count)
            let value = try x.withView(rows: Self.rows, columns: Self.classes) { xv in
                try t.withView(rows: Self.rows, columns: Self.classes) { tv in
                    try targets.withUnsafeBufferPointer { tp in
                        try g.withMutableView(rows: Self.rows, columns: Self.classes) { try body(xv, tv, tp, $0) }
                    }
                }
            }
            return (value, g)
        }
        #expect(runs.one.0.bitPattern == runs.two.0.bitPattern, "\(name)")
        #expect(runs.one.1.map(\.bitPattern) == runs.two.1.map(\.bitPattern), "\(name)")
    }

    @Test("The entropy-matched teacher temperature")
    func entropyTemperature() throws {
        let (x, _, _) = Self.data(52)
        let runs = try withOneAndTwoThreads { () throws -> Double in
            try x.withView(rows: Self.rows, columns: Self.classes) { try EntropyTemperature.solve(logits: $0, targetEntropy: 3) }
        }
        #expect(runs.one.bitPattern == runs.two.bitPattern)
    }

    @Test("Comp-sum, distillation, sigmoid BCE, LDR-KL, Z-loss, sequence log-probabilities")
    func everyLoss() throws {
        try check("gce") { x, _, y, g in try CompSumLoss<Float>.generalizedCrossEntropy(q: 0.7).lossAndGradient(logits: x, targets: y, gradient: g).loss }
        try check("kd") { x, t, _, g in
            try DistillationLoss<Float>(temperature: 2, balance: .entropyGap(amplification: 2)).lossAndGradient(studentLogits: x, teacherLogits: t, studentGradient: g).loss
        }
        try check("bce") { x, t, _, g in
            try SigmoidBinaryCrossEntropy<Float>(focalGamma: 2).lossAndGradient(logits: x, targets: MatrixView(unchecked: t.baseAddress, rows: t.rows, columns: t.columns, rowStride: t.rowStride), gradient: g)
        }
        try check("ldr") { x, _, y, g in try LabelDistributionallyRobustLoss<Float>(lambda: 0.5, margin: 0.2).lossAndGradient(logits: x, targets: y, gradient: g) }
        try check("aldr") { x, _, y, g in
            var lambdas = [Float](repeating: 0.8, count: Self.rows)
            let value = try lambdas.withUnsafeMutableBufferPointer {
                try LabelDistributionallyRobustLoss<Float>(lambda: 1, margin: 0.2).adaptiveLossAndGradient(
                    logits: x, targets: y, gradient: g, instanceTemperatures: $0, alpha: 2)
            }
            return value + lambdas.reduce(0, +)
        }
        try check("z") { x, _, y, g in try SphericalZLoss<Float>(a: 1, b: 1).lossAndGradient(logits: x, targets: y, gradient: g) }
        try check("sequence") { x, _, y, g in
            let op = SequenceLogProbabilities<Float>(sequenceLength: 8)
            var logp = [Float](repeating: 0, count: Self.rows / 8)
            try logp.withUnsafeMutableBufferPointer { try op.forward(logits: x, targets: y, logProbabilities: $0) }
            let upstream = logp.map { 1 / (1 + $0 * $0) }
            try upstream.withUnsafeBufferPointer { try op.backward(logits: x, targets: y, upstream: $0, gradient: g) }
            return logp.reduce(0, +)
        }
        try check("preference") { x, _, y, g in
            // Rows 0 ..< 48 chosen, 48 ..< 96 rejected: 6 pairs of 8 tokens, blocks of 2 pairs.
            var op = PreferenceOptimization<Float>(loss: PreferenceLoss(.dpo, beta: 0.5), sequenceLength: 8)
            op.pairBlockBytes = 2 * 2 * 8 * Self.classes * MemoryLayout<Float>.stride
            let reference = [Float](repeating: -3000, count: 6)
            return try reference.withUnsafeBufferPointer { r in
                try op.lossAndGradient(chosenLogits: x.rows(0..<48), chosenTargets: UnsafeBufferPointer(rebasing: y[0..<48]),
                                       rejectedLogits: x.rows(48..<96), rejectedTargets: UnsafeBufferPointer(rebasing: y[48...]),
                                       referenceChosen: r, referenceRejected: r,
                                       chosenGradient: g.rows(0..<48), rejectedGradient: g.rows(48..<96)).loss
            }
        }
    }
}
