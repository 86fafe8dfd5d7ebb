import Testing
import Foundation
import FulcrumKernels
@testable import FulcrumCalibration

@Suite("Temperature and vector scaling")
struct ScalingTests {
    /// True logits u (n×C), labels drawn from softmax(u), and observed logits x = transform(u).
    static func synthetic(_ n: Int, _ c: Int, seed: UInt64, observe: (Int, Double) -> Double) -> ([Float], [Int32]) {
        var g = TestGenerator(seed: seed)
        var x: [Float] = [], y: [Int32] = []
        for _ in 0..<n {
            let u = (0..<c).map { _ in (g.unit() + g.unit() + g.unit() - 1.5) * 4 }
            let m = u.max()!
            let e = u.map { Foundation.exp($0 - m) }
            var r = g.unit() * e.reduce(0, +), label = 0
            while label < c - 1 && r >= e[label] { r -= e[label]; label += 1 }
            y.append(Int32(label))
            x += u.enumerated().map { Float(observe($0.offset, $0.element)) }
        }
        return (x, y)
    }

    /// NLL of softmax(w∘x + b) in Double.
    static func nll(_ x: [Float], _ y: [Int32], _ c: Int, scales: [Double], biases: [Double]) -> Double {
        let n = y.count
        var total = 0.0
        for i in 0..<n {
            let z = (0..<c).map { scales[$0] * Double(x[i * c + $0]) + biases[$0] }
            let m = z.max()!
            total += m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) }) - z[Int(y[i])]
        }
        return total / Double(n)
    }

    @Test func recoversTheGeneratingTemperature() throws {
        // Labels follow softmax(u); the model reports x = 2.5·u, so T = 2.5 is the truth.
        let (n, c) = (20_000, 10)
        let (x, y) = Self.synthetic(n, c, seed: 1) { _, u in 2.5 * u }
        let fit = try withMatrix(x, rows: n, columns: c) { m in try y.withUnsafeBufferPointer { try TemperatureScaling(logits: m, labels: $0) } }
        #expect(abs(fit.temperature - 2.5) < 0.1, "T = \(fit.temperature)")
        #expect(fit.iterations < 20)
        // A minimum of the Double NLL: moving T either way by 0.1% does not lower it.
        let ones = [Double](repeating: 1, count: c), zeros = [Double](repeating: 0, count: c)
        let at = Self.nll(x, y, c, scales: ones.map { $0 / fit.temperature }, biases: zeros)
        for factor in [0.999, 1.001] {
            #expect(Self.nll(x, y, c, scales: ones.map { $0 / (fit.temperature * factor) }, biases: zeros) >= at - 1e-9)
        }
        #expect(abs(fit.negativeLogLikelihood - at) < 1e-5 * at)
    }

    @Test func derivativesMatchFiniteDifferences() throws {
        let (n, c) = (500, 7)
        let (x, y) = Self.synthetic(n, c, seed: 2) { _, u in 1.7 * u }
        try withMatrix(x, rows: n, columns: c) { m in
            try y.withUnsafeBufferPointer { yb in
                let objective = TemperatureObjective(logits: m, labels: yb)
                let t = 0.3, h = 1e-4
                let point = try objective.evaluate(logTemperature: t)
                func f(_ t: Double) -> Double {
                    Self.nll(x, y, c, scales: [Double](repeating: Foundation.exp(-t), count: c), biases: [Double](repeating: 0, count: c))
                }
                let slope = (f(t + h) - f(t - h)) / (2 * h)
                let curvature = (f(t + h) - 2 * f(t) + f(t - h)) / (h * h)
                #expect(abs(point.slope - slope) < 1e-4 * max(1, abs(slope)), "\(point.slope) vs \(slope)")
                #expect(abs(point.curvature - curvature) < 1e-3 * max(1, abs(curvature)), "\(point.curvature) vs \(curvature)")
            }
        }
    }

    /// The objective against the Double NLL and its central differences in t = log T, on rows of
    /// 37 classes (two whole 16-lane vectors and a tail) where some targets lie far below their
    /// row's maximum: at T = e^0.3 those rows have s·(max − x_y) > 64 and take the second sweep
    /// shifted by the maximum (shifted by the target, e^{s·(x − x_y)} would overflow).
    @Test func objectiveMatchesDoubleReferenceWithFarTargets() throws {
        let (n, c) = (64, 37)
        var (x, y) = Self.synthetic(n, c, seed: 5) { _, u in 1.2 * u }
        for i in stride(from: 0, to: n, by: 3) {
            let j = (i * 7) % c
            x[i * c + j] = -90  // the target, about 100 below the maximum
            y[i] = Int32(j)
        }
        try withMatrix(x, rows: n, columns: c) { m in
            try y.withUnsafeBufferPointer { yb in
                let objective = TemperatureObjective(logits: m, labels: yb)
                for t in [0.3, -0.4] {
                    let point = try objective.evaluate(logTemperature: t)
                    func f(_ t: Double) -> Double {
                        Self.nll(x, y, c, scales: [Double](repeating: Foundation.exp(-t), count: c), biases: [Double](repeating: 0, count: c))
                    }
                    let h = 1e-4
                    let (value, slope) = (f(t), (f(t + h) - f(t - h)) / (2 * h))
                    let curvature = (f(t + h) - 2 * value + f(t - h)) / (h * h)
                    #expect(abs(point.value - value) < 1e-6 * abs(value), "t = \(t): \(point.value) vs \(value)")
                    #expect(abs(point.slope - slope) < 1e-4 * max(1, abs(slope)), "t = \(t): \(point.slope) vs \(slope)")
                    #expect(abs(point.curvature - curvature) < 1e-3 * max(1, abs(curvature)), "t = \(t): \(point.curvature) vs \(curvature)")
                }
            }
        }
    }

    /// NaN and ±∞ are named at their (row, column), in any row of any block.
    @Test func nonFiniteLogitsAreNamedWhereTheyAre() throws {
        let (n, c) = (1000, 20)
        let (clean, y) = Self.synthetic(n, c, seed: 6) { _, u in u }
        for (row, column, value) in [(0, 0, Float.nan), (517, 19, .infinity), (999, 3, -.infinity)] {
            var x = clean
            x[row * c + column] = value
            x[min(n - 1, row + 1) * c + 5] = .nan  // a later one is not the one reported
            try withMatrix(x, rows: n, columns: c) { m in
                try y.withUnsafeBufferPointer { yb in
                    #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: row, column: column)) {
                        try TemperatureScaling(logits: m, labels: yb)
                    }
                }
            }
        }
    }

    /// The vector-scaling objective against the Double NLL and its central differences in each
    /// of the 2C parameters, on rows of 37 classes (vectors and a tail) and of 600 (two 512-class
    /// sums), where every third target lies far below its row's maximum (more than 64 below it
    /// after scaling: the second sweep, shifted by the maximum). Bitwise the same on 1 and 2 threads.
    @Test func vectorScalingObjectiveMatchesDoubleReference() throws {
        for (n, c) in [(64, 37), (20, 600)] {
            var (x, y) = Self.synthetic(n, c, seed: UInt64(c)) { _, u in 1.2 * u }
            for i in stride(from: 0, to: n, by: 3) {
                let j = (i * 7) % c
                x[i * c + j] = -90
                y[i] = Int32(j)
            }
            var g = TestGenerator(seed: 11)
            let scales = (0..<c).map { _ in 0.8 + 1.2 * g.unit() }, biases = (0..<c).map { _ in g.unit() * 2 - 1 }
            // The reference sees the parameters as the objective does, rounded to Float.
            let theta = (scales + biases).map { Double(Float($0)) }
            func f(_ theta: [Double]) -> Double { Self.nll(x, y, c, scales: Array(theta[..<c]), biases: Array(theta[c...])) }
            let (value, gradient) = try withMatrix(x, rows: n, columns: c) { m in
                try y.withUnsafeBufferPointer { try VectorScalingObjective(logits: m, labels: $0).evaluate(theta) }
            }
            #expect(abs(value - f(theta)) < 1e-6 * f(theta), "C = \(c): \(value) vs \(f(theta))")
            var probe = theta
            for k in theta.indices {
                let h = 1e-4 * max(1, abs(theta[k]))
                probe[k] = theta[k] + h
                let up = f(probe)
                probe[k] = theta[k] - h
                let down = f(probe)
                probe[k] = theta[k]
                let slope = (up - down) / (2 * h)
                #expect(abs(gradient[k] - slope) < 2e-6 * max(1, abs(slope)), "C = \(c), θ[\(k)]: \(gradient[k]) vs \(slope)")
            }
            let saved = Threads.count
            defer { try? Threads.setCount(saved) }
            try Threads.setCount(1)
            let (one, oneGradient) = try withMatrix(x, rows: n, columns: c) { m in
                try y.withUnsafeBufferPointer { try VectorScalingObjective(logits: m, labels: $0).evaluate(theta) }
            }
            #expect(one == value && oneGradient == gradient)
        }
    }

    /// A trial θ whose w∘x + b overflows Float gives +∞ (the line search then shortens its step),
    /// not an error; NaN and ±∞ logits are named at their (row, column).
    @Test func vectorScalingOverflowAndNonFiniteLogits() throws {
        let (n, c) = (1000, 20)
        let (clean, y) = Self.synthetic(n, c, seed: 6) { _, u in u }
        let huge = [Double](repeating: 1e38, count: c) + [Double](repeating: 0, count: c)
        let value = try withMatrix(clean, rows: n, columns: c) { m in
            try y.withUnsafeBufferPointer { try VectorScalingObjective(logits: m, labels: $0).evaluate(huge).0 }
        }
        #expect(value == .infinity)
        for (row, column, bad) in [(0, 0, Float.nan), (517, 19, .infinity), (999, 3, -.infinity)] {
            var x = clean
            x[row * c + column] = bad
            x[min(n - 1, row + 1) * c + 5] = .nan
            try withMatrix(x, rows: n, columns: c) { m in
                try y.withUnsafeBufferPointer { yb in
                    #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: row, column: column)) {
                        try VectorScaling(logits: m, labels: yb)
                    }
                }
            }
        }
    }

    @Test func vectorScalingRecoversScalesAndBiases() throws {
        // x_j = (u_j − b_j)/w_j, so w∘x + b = u: the fit should find w and b (b up to a shift).
        let (n, c) = (20_000, 4)
        let w: [Double] = [0.5, 1, 1.5, 2], b: [Double] = [1, -0.5, 0, 0.8]
        let (x, y) = Self.synthetic(n, c, seed: 3) { j, u in (u - b[j]) / w[j] }
        let fit = try withMatrix(x, rows: n, columns: c) { m in try y.withUnsafeBufferPointer { try VectorScaling(logits: m, labels: $0) } }
        #expect(fit.iterations < 100, "\(fit.iterations) iterations")
        for j in 0..<c { #expect(abs(fit.scales[j] - w[j]) < 0.1 * w[j], "w[\(j)] = \(fit.scales[j])") }
        let shift = zip(fit.biases, b).reduce(0) { $0 + $1.0 - $1.1 } / Double(c)
        for j in 0..<c { #expect(abs(fit.biases[j] - shift - b[j]) < 0.1, "b[\(j)] = \(fit.biases[j])") }
        let temperature = try withMatrix(x, rows: n, columns: c) { m in try y.withUnsafeBufferPointer { try TemperatureScaling(logits: m, labels: $0) } }
        #expect(fit.negativeLogLikelihood <= temperature.negativeLogLikelihood + 1e-6)
        // The calibrated probabilities are softmax(w∘x + b).
        var p = [Float](repeating: 0, count: 3 * c)
        try withMatrix(x, rows: 3, columns: c) { m in
            try p.withUnsafeMutableBufferPointer { try fit.probabilities(logits: m, into: MutableMatrixView(unchecked: $0.baseAddress, rows: 3, columns: c, rowStride: c)) }
        }
        for i in 0..<3 {
            let z = (0..<c).map { fit.scales[$0] * Double(x[i * c + $0]) + fit.biases[$0] }
            let e = z.map { Foundation.exp($0 - z.max()!) }
            for j in 0..<c { #expect(abs(Double(p[i * c + j]) - e[j] / e.reduce(0, +)) < 1e-6) }
        }
    }

    /// NLL that does not depend on T (one class; every row's logits equal) leaves T = 1 after one
    /// look at the slope, instead of walking log T by the step cap every iteration.
    @Test func flatObjectiveKeepsTemperatureOne() throws {
        for (logits, columns) in [([Float](repeating: 0.5, count: 4), 1), ([Float](repeating: -2, count: 12), 3)] {
            let labels = [Int32](repeating: 0, count: logits.count / columns)
            let fit = try withMatrix(logits, rows: labels.count, columns: columns) { m in
                try labels.withUnsafeBufferPointer { try TemperatureScaling(logits: m, labels: $0) }
            }
            #expect(fit.temperature == 1 && fit.iterations == 1, "C = \(columns): T = \(fit.temperature) after \(fit.iterations)")
        }
    }

    @Test func badInputThrows() throws {
        try withMatrix([1, 2, .nan, 4], rows: 2, columns: 2) { m in
            try [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.self) { try TemperatureScaling(logits: m, labels: y) }
            }
        }
        try withMatrix([1, 2, 3, 4], rows: 2, columns: 2) { m in
            try [Int32(0), 2].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.indexOutOfRange(argument: "labels", position: 1, value: 2, validRange: "0..<2")) { try VectorScaling(logits: m, labels: y) }
            }
            try [Int32(0)].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.shapeMismatch(argument: "labels", expected: "2", actual: "1")) { try TemperatureScaling(logits: m, labels: y) }
            }
        }
    }
}
