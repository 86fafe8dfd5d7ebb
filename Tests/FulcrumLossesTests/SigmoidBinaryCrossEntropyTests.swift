import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Plain Double sigmoid BCE (and focal) reference from the definitions, with log of σ in libm.
enum SigmoidReference {
    static func element(_ x: Double, _ y: Double, posWeight: Double, weight: Double, gamma: Double, alpha: Double?) -> Double {
        let p = 1 / (1 + exp(-x))
        // log σ(x) = −log1p(e^{−x}), log(1 − σ(x)) = −log1p(e^{x}), stable for |x| ≤ 30 here.
        let ce = posWeight * y * log1p(exp(-x)) + (1 - y) * log1p(exp(x))
        let pt = p * y + (1 - p) * (1 - y)
        let at = alpha.map { $0 * y + (1 - $0) * (1 - y) } ?? 1
        return weight * at * pow(1 - pt, gamma) * ce
    }

    static func total(_ x: [Double], _ y: [Double], columns: Int, posWeights: [Double]?, weights: [Double]?,
                      gamma: Double, alpha: Double?, reduction: Reduction) -> Double {
        var sum = 0.0
        for i in x.indices {
            let c = i % columns
            sum += element(x[i], y[i], posWeight: posWeights?[c] ?? 1, weight: weights?[c] ?? 1, gamma: gamma, alpha: alpha)
        }
        return reduction == .mean ? sum / Double(x.count) : sum
    }
}

func runSigmoid<T: FulcrumFloat>(_ loss: SigmoidBinaryCrossEntropy<T>, _ x: [Double], _ y: [Double], rows: Int, columns: Int) throws -> (Double, [Double]) {
    let (xt, yt) = (x.map { T($0) }, y.map { T($0) })
    var g = [T](repeating: -7, count: x.count)
    let value = try xt.withView(rows: rows, columns: columns) { xv in
        try yt.withView(rows: rows, columns: columns) { yv in
            try g.withMutableView(rows: rows, columns: columns) { try loss.lossAndGradient(logits: xv, targets: yv, gradient: $0) }
        }
    }
    return (Double(value), g.map { Double($0) })
}

@Suite("Sigmoid binary cross-entropy with logits and its focal variant")
struct SigmoidBinaryCrossEntropyTests {
    @Test("Every option combination against the reference and finite differences, Float within 1e-5 of Double",
          arguments: [Reduction.none, .sum, .mean])
    func againstReference(reduction: Reduction) throws {
        // Each shape takes one focal γ: whole ones are products in the kernel, 1.5 is exp(γ·log).
        for ((rows, columns), focalGamma) in zip([(1, 1), (2, 5), (3, 11), (2, 19), (1, 1030)], [2.0, 1, 1.5, 3, 4]) {
            for bits in 0..<16 {
                var random = TestRandom(seed: UInt64(bits * 100 + columns))
                let x = random.values(rows * columns, -6, 6)
                let y = (0..<(rows * columns)).map { i in i % 3 == 0 ? random.uniform(0, 1) : Double(random.below(2)) }
                let pw = bits & 1 != 0 ? random.values(columns, 0.3, 3) : nil
                let w = bits & 2 != 0 ? random.values(columns, 0.2, 2) : nil
                let gamma = bits & 4 != 0 ? focalGamma : 0
                let alpha: Double? = bits & 8 != 0 ? 0.25 : nil
                let reference = { (v: [Double]) in
                    SigmoidReference.total(v, y, columns: columns, posWeights: pw, weights: w, gamma: gamma, alpha: alpha, reduction: reduction)
                }
                let (loss, g) = try runSigmoid(SigmoidBinaryCrossEntropy<Double>(positiveWeights: pw, classWeights: w, focalGamma: gamma,
                                                                                 focalAlpha: alpha, reduction: reduction),
                                               x, y, rows: rows, columns: columns)
                #expect(relativeError(loss, reference(x)) <= 1e-13, "bits \(bits)")
                #expect(maxRelativeError(g, finiteDifferences(x, reference)) <= 1e-6, "bits \(bits)")
                let (lossF, gF) = try runSigmoid(
                    SigmoidBinaryCrossEntropy<Float>(positiveWeights: pw?.map { Float($0) }, classWeights: w?.map { Float($0) },
                                                     focalGamma: Float(gamma), focalAlpha: alpha.map { Float($0) }, reduction: reduction),
                    x, y, rows: rows, columns: columns)
                #expect(relativeError(lossF, loss) <= 1e-5 && maxRelativeError(gF, g) <= 1e-5, "bits \(bits)")
            }
        }
    }

    @Test("Extreme logits: tiny losses keep relative accuracy, huge ones stay finite")
    func extremes() throws {
        // x = 40, y = 1: ℓ = log1p(e^{−40}) ≈ e^{−40} = 4.248354255291589e-18; x = −200, y = 1: ℓ ≈ 200.
        let (tiny, g) = try runSigmoid(SigmoidBinaryCrossEntropy<Float>(), [40], [1], rows: 1, columns: 1)
        #expect(relativeError(tiny, exp(-40.0)) <= 1e-6)
        #expect(relativeError(g[0], -exp(-40.0)) <= 1e-6)
        let (huge, gh) = try runSigmoid(SigmoidBinaryCrossEntropy<Float>(), [-200], [1], rows: 1, columns: 1)
        #expect(huge == 200 && gh[0] == -1)
        let (focal, gf) = try runSigmoid(SigmoidBinaryCrossEntropy<Float>(focalGamma: 0.5), [40, -40], [1, 0], rows: 1, columns: 2)
        #expect(focal.isFinite && gf.allSatisfy { $0.isFinite })
    }

    @Test("No columns: the sum is 0, the mean throws")
    func noColumns() throws {
        let (total, g) = try runSigmoid(SigmoidBinaryCrossEntropy<Float>(positiveWeights: [], focalGamma: 2, reduction: .sum), [], [], rows: 3, columns: 0)
        #expect(total == 0 && g.isEmpty)
        #expect(thrownArgument { _ = try runSigmoid(SigmoidBinaryCrossEntropy<Float>(), [], [], rows: 3, columns: 0) } == "logits")
    }

    @Test("Bad input throws naming the argument")
    func badInput() throws {
        let x: [Float] = [0, 1, 2, 3]
        func attempt(_ loss: SigmoidBinaryCrossEntropy<Float>, targets: [Float] = [0, 1, 0, 1], columns: Int = 2) -> String? {
            thrownArgument {
                _ = try x.withView(rows: 2, columns: 2) { xv in
                    try targets.withView(rows: targets.count / columns, columns: columns) { try loss.loss(logits: xv, targets: $0) }
                }
            }
        }
        #expect(attempt(SigmoidBinaryCrossEntropy(positiveWeights: [1])) == "positiveWeights")
        #expect(attempt(SigmoidBinaryCrossEntropy(classWeights: [1, -1])) == "classWeights[1]")
        #expect(attempt(SigmoidBinaryCrossEntropy(focalGamma: -1)) == "focalGamma")
        #expect(attempt(SigmoidBinaryCrossEntropy(focalAlpha: 1.5)) == "focalAlpha")
        #expect(attempt(SigmoidBinaryCrossEntropy(), targets: [0, 1, 0, 1], columns: 4) == "targets")
        #expect(attempt(SigmoidBinaryCrossEntropy(), targets: [0, .nan, 0, 1]) == "targets")
        // Targets outside [0, 1] that make the loss non-finite, which was reported as an overflow
        // naming logits: a focal factor of a negative base, and a loss past Float's range.
        #expect(attempt(SigmoidBinaryCrossEntropy(focalGamma: 1.5), targets: [0, 1, 5, 1]) == "targets[1, 0]")
        #expect(attempt(SigmoidBinaryCrossEntropy(), targets: [0, 1, 0, 3e38]) == "targets[1, 1]")
        // x + y overflowing the row's finiteness probe: the row was silently left out of the loss.
        let huge: [Float] = [3e38, 1]
        #expect(thrownArgument {
            _ = try huge.withView(rows: 1, columns: 2) { xv in
                try huge.withView(rows: 1, columns: 2) { try SigmoidBinaryCrossEntropy<Float>().loss(logits: xv, targets: $0) }
            }
        } == "targets[0, 0]")
    }
}
