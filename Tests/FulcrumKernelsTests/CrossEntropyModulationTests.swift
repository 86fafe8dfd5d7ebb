import Foundation
import Testing
@testable import FulcrumKernels

/// A test modulation using every input of the hook: ℓ = CE + CE²/2 − 0.2·k·log p_y·CE with
/// k = 1 + row, so F = ∂ℓ/∂CE = 1 + CE − 0.2·k·log p_y and G = ∂ℓ/∂log p_y = −0.2·k·CE.
struct PolynomialModulation: CrossEntropyRowModulation {
    func modulate(_ row: CrossEntropyRowStatistics) -> CrossEntropyRowModulated {
        let (ce, logP, k) = (row.crossEntropy, -row.negativeLogLikelihood, 0.2 * Double(1 + row.row))
        return CrossEntropyRowModulated(loss: ce + ce * ce / 2 - k * logP * ce,
                                        crossEntropyFactor: 1 + ce - k * logP, logProbabilityFactor: -k * ce)
    }
}

@Suite("Cross-entropy row modulation hook")
struct CrossEntropyModulationTests {
    /// The documented loss with the test modulation, in Double from the plain reference.
    static func total(_ x: [[Double]], _ targets: [Int32], excluded: [[Bool]]?, _ o: ReferenceOptions) -> Double {
        var sum = 0.0, weightSum = 0.0
        for n in x.indices where targets[n] != o.ignoreIndex {
            let y = Int(targets[n])
            var plain = o
            plain.zLoss = 0
            let r = CrossEntropyReference.row(x[n], target: y, excluded: excluded?[n], plain)
            let z = CrossEntropyReference.row(x[n], target: y, excluded: excluded?[n], o).zLoss
            // log p_y from the same scores: −(lse − z_y) = −(CE without smoothing and weights).
            var unweighted = plain
            unweighted.weights = nil
            unweighted.smoothing = 0
            let logP = -CrossEntropyReference.row(x[n], target: y, excluded: excluded?[n], unweighted).loss
            let k = 0.2 * Double(1 + n)
            sum += r.loss + r.loss * r.loss / 2 - k * logP * r.loss + z
            weightSum += o.weights?[y] ?? 1
        }
        return o.reduction == .mean ? sum / weightSum : sum
    }

    @Test("A modulation using CE, log p_y and the row index matches finite differences under every option")
    func arbitraryModulation() throws {
        for bits in [0, 1, 2, 1 | 2 | 4, 8 | 16, 32 | 64 | 256, 1 | 2 | 16 | 256 | 512] {
            let c = CrossEntropyCase(rows: 4, classes: 9, bits: bits, reduction: .mean, seed: UInt64(300 + bits))
            var kernel = c.options.kernel(Double.self)
            kernel.rowModulation = PolynomialModulation()
            var gradient = [Double](repeating: 0, count: c.logits.count)
            let result = try c.logits.withView(rows: c.rows, columns: c.classes) { xv in
                try c.targets.withUnsafeBufferPointer { t in
                    try gradient.withMutableView(rows: c.rows, columns: c.classes) { gv in
                        try withOptionalMaskView(c.mask, rows: c.rows, columns: c.classes) {
                            try kernel.lossAndGradient(logits: xv, targets: t, gradient: gv, excludedClasses: $0)
                        }
                    }
                }
            }
            let expected = Self.total(c.logitRows, c.targets, excluded: c.maskRows, c.options)
            #expect(relativeError(result.loss, expected) <= 1e-12, "bits \(bits)")
            var probe = c.logitRows
            var worst = 0.0, scale = 1e-12
            for n in 0..<c.rows {
                for j in 0..<c.classes {
                    let step = 1e-5 * max(1, abs(probe[n][j]))
                    probe[n][j] += step
                    let up = Self.total(probe, c.targets, excluded: c.maskRows, c.options)
                    probe[n][j] -= 2 * step
                    let down = Self.total(probe, c.targets, excluded: c.maskRows, c.options)
                    probe[n][j] += step
                    let fd = (up - down) / (2 * step)
                    scale = max(scale, abs(fd))
                    worst = max(worst, abs(fd - gradient[n * c.classes + j]))
                }
            }
            #expect(worst / scale <= 1e-6, "bits \(bits)")
        }
    }

    @Test("FocalModulation as a row modulation equals focalGamma; both together throw")
    func focalEquivalence() throws {
        let c = CrossEntropyCase(rows: 5, classes: 13, bits: 1 | 2, reduction: .sum, seed: 12)
        var viaOption = c.options
        viaOption.gamma = 1.5
        let a = try runCrossEntropy(Double.self, logits: c.logits, rows: c.rows, classes: c.classes, targets: c.targets, options: viaOption)
        var kernel = c.options.kernel(Double.self)
        kernel.rowModulation = FocalModulation(gamma: 1.5)
        var gradient = [Double](repeating: 0, count: c.logits.count)
        let b = try c.logits.withView(rows: c.rows, columns: c.classes) { xv in
            try c.targets.withUnsafeBufferPointer { t in
                try gradient.withMutableView(rows: c.rows, columns: c.classes) { try kernel.lossAndGradient(logits: xv, targets: t, gradient: $0) }
            }
        }
        #expect(a.result.loss == b.loss && a.gradient == gradient)
        kernel.focalGamma = 2
        #expect(throws: FulcrumError.self) {
            _ = try c.logits.withView(rows: c.rows, columns: c.classes) { xv in
                try c.targets.withUnsafeBufferPointer { try kernel.loss(logits: xv, targets: $0) }
            }
        }
    }
}
