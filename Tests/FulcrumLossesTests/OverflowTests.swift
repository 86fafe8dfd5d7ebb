import Testing
import FulcrumKernels
import FulcrumLosses

/// Options that take a loss past Float with finite inputs: each call used to return ±inf or NaN.
@Suite("Losses whose options overflow Float throw naming the options")
struct OverflowTests {
    let x: [Float] = [1, 2, 3, 4, 0.5, -1, 2, 8]
    let teacher: [Float] = [0, 1, 0, 2, 3, 1, 1, 1]
    let targets: [Int32] = [1, 3]

    @Test("LDR-KL with a tiny λ, the Z-loss with a tiny a, distillation at extreme temperatures, BCE with huge positive weights")
    func overflow() throws {
        var gradient = [Float](repeating: 0, count: 8)
        func softmaxLoss(_ body: (MatrixView<Float>, UnsafeBufferPointer<Int32>, MutableMatrixView<Float>) throws -> Void) -> String? {
            thrownArgument {
                try x.withView(rows: 2, columns: 4) { xv in try targets.withUnsafeBufferPointer { t in
                    try gradient.withMutableView(rows: 2, columns: 4) { try body(xv, t, $0) }
                } }
            }
        }
        #expect(softmaxLoss { _ = try LabelDistributionallyRobustLoss<Float>(lambda: 1e-40, margin: 0.1).lossAndGradient(logits: $0, targets: $1, gradient: $2) }
                == "lambda, margin")
        #expect(softmaxLoss { _ = try SphericalZLoss<Float>(a: 1e-40, b: 1).lossAndGradient(logits: $0, targets: $1, gradient: $2) } == "a, b")
        for temperature: Float in [1e-40, 3e38] {
            #expect(softmaxLoss { x, _, g in
                try teacher.withView(rows: 2, columns: 4) { t in
                    _ = try DistillationLoss<Float>(temperature: temperature).lossAndGradient(studentLogits: x, teacherLogits: t, studentGradient: g)
                }
            } == "temperature, teacherTemperature", "T = \(temperature)")
        }
        // A positive at logit −100 weighted 3e38: π·softplus(100) = 3e40.
        let labels: [Float] = [1, 1, 1, 0, 1, 0, 0, 1], negative: [Float] = [-100, 2, 3, 4, 0.5, -1, 2, 8]
        #expect(softmaxLoss { _, _, g in
            try negative.withView(rows: 2, columns: 4) { x in try labels.withView(rows: 2, columns: 4) { y in
                _ = try SigmoidBinaryCrossEntropy<Float>(positiveWeights: [3e38, 3e38, 3e38, 3e38]).lossAndGradient(logits: x, targets: y, gradient: g)
            } }
        } == "positiveWeights")
        // The same losses at ordinary options return finite values.
        #expect(softmaxLoss { _ = try LabelDistributionallyRobustLoss<Float>(lambda: 0.5, margin: 0.1).lossAndGradient(logits: $0, targets: $1, gradient: $2) } == nil)
        #expect(softmaxLoss { _ = try SphericalZLoss<Float>(a: 1, b: 2).lossAndGradient(logits: $0, targets: $1, gradient: $2) } == nil)
    }
}
