import Foundation
import Testing
@testable import FulcrumKernels

/// What one kernel call returned, gathered into arrays.
struct KernelOutput<T: FulcrumFloat> {
    var result: CrossEntropyResult<T>
    var gradient: [T]
    var rowLosses: [T]
    var rowLogSumExp: [T]
}

/// Runs the kernel on row-major `logits` (converted to T), in place or into a separate buffer (the
/// latter also asks for the per-row losses and log-sum-exps).
func runCrossEntropy<T: FulcrumFloat>(
    _: T.Type, logits: [Double], rows: Int, classes: Int, targets: [Int32], mask: [UInt8]? = nil,
    options: ReferenceOptions, inPlace: Bool = false, policy: NonFinitePolicy = .throwError, gradientScale: T = 1
) throws -> KernelOutput<T> {
    let kernel = options.kernel(T.self, policy: policy)
    var x = logits.map { T($0) }
    var gradient = [T](repeating: -7, count: rows * classes)
    var rowLosses = [T](repeating: -7, count: rows)
    var lse = [T](repeating: -7, count: rows)
    let result = try targets.withUnsafeBufferPointer { t in
        try rowLosses.withUnsafeMutableBufferPointer { losses in
            try lse.withUnsafeMutableBufferPointer { lseOut in
                try withOptionalMaskView(mask, rows: rows, columns: classes) { maskView in
                    if inPlace {
                        // In place without the optional outputs, so that both paths are exercised.
                        return try x.withMutableView(rows: rows, columns: classes) {
                            try kernel.lossAndGradient(inPlace: $0, targets: t, excludedClasses: maskView, gradientScale: gradientScale)
                        }
                    }
                    return try x.withView(rows: rows, columns: classes) { xv in
                        try gradient.withMutableView(rows: rows, columns: classes) {
                            try kernel.lossAndGradient(logits: xv, targets: t, gradient: $0, excludedClasses: maskView,
                                                       gradientScale: gradientScale, rowLosses: losses, rowLogSumExp: lseOut)
                        }
                    }
                }
            }
        }
    }
    return KernelOutput(result: result, gradient: inPlace ? x : gradient, rowLosses: rowLosses, rowLogSumExp: lse)
}

func withOptionalMaskView<R>(_ mask: [UInt8]?, rows: Int, columns: Int, _ body: (MatrixView<UInt8>?) throws -> R) rethrows -> R {
    guard let mask else { return try body(nil) }
    return try mask.withView(rows: rows, columns: columns) { try body($0) }
}

/// One test case: random logits, targets and a mask for a shape and an option set.
struct CrossEntropyCase {
    var rows: Int, classes: Int
    var logits: [Double]
    var targets: [Int32]
    var mask: [UInt8]?
    var options: ReferenceOptions

    /// Option bits: weights, smoothing, z-loss, softcap, temperature, offsets, margins, focal, mask, ignore.
    init(rows: Int, classes: Int, bits: Int, reduction: Reduction, seed: UInt64, scale: Double = 3) {
        var random = TestRandom(seed: seed)
        self.rows = rows
        self.classes = classes
        logits = (0..<(rows * classes)).map { _ in random.uniform(-scale, scale) }
        let targets = (0..<rows).map { _ in Int32(random.below(classes)) }
        self.targets = targets
        var o = ReferenceOptions(reduction: reduction)
        if bits & 1 != 0 { o.weights = (0..<classes).map { _ in random.uniform(0.2, 2) } }
        if bits & 2 != 0 { o.smoothing = 0.15 }
        if bits & 4 != 0 { o.zLoss = 0.05 }
        if bits & 8 != 0 { o.softcap = 2.5 }
        if bits & 16 != 0 { o.temperature = 0.7 }
        if bits & 32 != 0 { o.offsets = (0..<classes).map { _ in random.uniform(-1, 1) } }
        if bits & 64 != 0 { o.margins = (0..<classes).map { _ in random.uniform(0, 0.8) } }
        if bits & 128 != 0 { o.gamma = 2 }
        if bits & 256 != 0 {
            mask = (0..<(rows * classes)).map { i in
                i % classes != Int(targets[i / classes]) && random.uniform(0, 1) < 0.3 ? 1 : 0
            }
        }
        if bits & 512 != 0, rows > 1 { self.targets[0] = o.ignoreIndex }
        options = o
    }

    /// Float's cancellation floor for this case's gradient, divided by 1e-6 so that it adds to the
    /// 1e-6·max|g| bound. A gradient entry is s·(α·p_j − β·w_j): when the softmax fits the
    /// (smoothed) target the two terms cancel and max|g| falls far below them, while Float stores
    /// p_j with a relative error of a few ulp. The floor is 4 ulp of the largest term,
    /// s·(w_y·(1 + γ·ℓ + 2·z·|lse|) + ε·W), over the counted rows.
    func floatRoundingFloor() -> Double {
        let o = options
        var denominator = 0.0, largest = 0.0
        for n in 0..<rows where targets[n] != o.ignoreIndex {
            let y = Int(targets[n])
            let wy = o.weights?[y] ?? 1
            let r = CrossEntropyReference.row(logitRows[n], target: y, excluded: maskRows?[n], o)
            let smoothing = o.smoothing * (o.weights?.max() ?? 1)
            largest = max(largest, wy * (1 + o.gamma * r.loss + 2 * o.zLoss * abs(r.lse)) + smoothing)
            denominator += wy
        }
        let scale = o.reduction == .mean ? 1 / denominator : 1
        return 4 * Double(Float.ulpOfOne) * largest * scale / 1e-6
    }

    var logitRows: [[Double]] { (0..<rows).map { Array(logits[($0 * classes)..<(($0 + 1) * classes)]) } }
    var maskRows: [[Bool]]? { mask.map { m in (0..<rows).map { n in (0..<classes).map { m[n * classes + $0] != 0 } } } }
}

@Suite("Fused softmax cross-entropy against a Double reference")
struct CrossEntropyTests {
    static let shapes = [(1, 1), (1, 2), (3, 7), (2, 13), (2, 16), (3, 37)]

    @Test("Every option combination, reduction and placement matches the reference and finite differences",
          arguments: [Reduction.none, .sum, .mean])
    func optionCombinations(reduction: Reduction) throws {
        var worstFloatLoss = 0.0, worstFloatGradient = 0.0, worstDoubleGradient = 0.0
        for (shapeIndex, (rows, classes)) in Self.shapes.enumerated() {
            for bits in 0..<1024 {
                let c = CrossEntropyCase(rows: rows, classes: classes, bits: bits, reduction: reduction,
                                         seed: UInt64(bits * 16 + shapeIndex))
                let expected = CrossEntropyReference.total(c.logitRows, c.targets, excluded: c.maskRows, c.options)
                let fd = CrossEntropyReference.gradient(c.logitRows, c.targets, excluded: c.maskRows, c.options).flatMap { $0 }
                let fdScale = max(fd.map(abs).max()!, 1e-12)
                for inPlace in [false, true] {
                    let d = try runCrossEntropy(Double.self, logits: c.logits, rows: rows, classes: classes, targets: c.targets,
                                                mask: c.mask, options: c.options, inPlace: inPlace)
                    let f = try runCrossEntropy(Float.self, logits: c.logits, rows: rows, classes: classes, targets: c.targets,
                                                mask: c.mask, options: c.options, inPlace: inPlace)
                    #expect(relativeError(Double(d.result.loss), expected, floor: 1e-12) <= 1e-12, "bits \(bits) shape \(rows)x\(classes)")
                    worstFloatLoss = max(worstFloatLoss, relativeError(Double(f.result.loss), expected, floor: 1e-12))
                    let gScale = max(d.gradient.map { abs($0) }.max()!, 1e-12)
                    let floor = c.floatRoundingFloor()
                    for i in fd.indices {
                        worstDoubleGradient = max(worstDoubleGradient, abs(d.gradient[i] - fd[i]) / fdScale)
                        worstFloatGradient = max(worstFloatGradient, abs(Double(f.gradient[i]) - d.gradient[i]) / (gScale + floor))
                    }
                }
            }
        }
        #expect(worstFloatLoss <= 1e-5)
        #expect(worstFloatGradient <= 1e-6)
        #expect(worstDoubleGradient <= 1e-6)
    }

    /// The second and third option sets leave each row's log1p to the caller, four rows at a
    /// time (41 rows: a partial last group, and an ignored row among them).
    @Test("Per-row losses, log-sum-exp, the reduced loss and the correct count match the reference",
          arguments: [1 | 2 | 4 | 64 | 256 | 512, 1 | 64 | 512, 4 | 512])
    func rowOutputs(bits: Int) throws {
        let c = CrossEntropyCase(rows: 41, classes: 11, bits: bits, reduction: .mean, seed: 9)
        let out = try runCrossEntropy(Float.self, logits: c.logits, rows: c.rows, classes: c.classes, targets: c.targets,
                                      mask: c.mask, options: c.options)
        var correct = 0
        for n in 0..<c.rows {
            guard c.targets[n] != c.options.ignoreIndex else {
                #expect(out.rowLosses[n] == 0 && out.rowLogSumExp[n] == 0)
                #expect(out.gradient[(n * c.classes)..<((n + 1) * c.classes)].allSatisfy { $0 == 0 })
                continue
            }
            let r = CrossEntropyReference.row(c.logitRows[n], target: Int(c.targets[n]), excluded: c.maskRows?[n], c.options)
            #expect(relativeError(Double(out.rowLosses[n]), r.loss) <= 1e-5)
            #expect(relativeError(Double(out.rowLogSumExp[n]), r.lse) <= 1e-6)
            if r.argmax == Int(c.targets[n]) { correct += 1 }
        }
        #expect(out.result.correctCount == correct)
        #expect(out.result.countedRows == c.rows - 1)
        let total = CrossEntropyReference.total(c.logitRows, c.targets, excluded: c.maskRows, c.options)
        #expect(relativeError(Double(out.result.loss), total) <= 1e-5)
    }

    @Test("Rows of equal logits: loss log C, gradient (1/C − onehot)/N")
    func equalLogits() throws {
        for classes in [1, 2, 9, 1000] {
            let rows = 3
            let logits = [Double](repeating: 4.25, count: rows * classes)
            let targets = (0..<rows).map { Int32($0 % classes) }
            let out = try runCrossEntropy(Float.self, logits: logits, rows: rows, classes: classes, targets: targets,
                                          options: ReferenceOptions())
            #expect(relativeError(Double(out.result.loss), log(Double(classes)), floor: 1e-30) <= 1e-6 || classes == 1)
            if classes == 1 { #expect(out.result.loss == 0) }
            for n in 0..<rows {
                for j in 0..<classes {
                    let expected = (1 / Double(classes) - (j == Int(targets[n]) ? 1 : 0)) / Double(rows)
                    #expect(abs(Double(out.gradient[n * classes + j]) - expected) <= 1e-7)
                }
            }
        }
    }

    /// Rows of 513…1024 classes take the one-pass start (up to 64 terms per Float lane in its
    /// sum); targets near either end and in a tail vector, and rows whose target lies 80 below
    /// the maximum (pass B again, shifted by the maximum). Plain, weighted and focal options.
    @Test("Rows of 600, 1000 and 1024 classes (the one-pass start) match the reference",
          arguments: [0, 1, 128])
    func oneChunkPassRows(bits: Int) throws {
        for (rows, classes) in [(4, 600), (4, 1000), (3, 1024)] {
            var c = CrossEntropyCase(rows: rows, classes: classes, bits: bits, reduction: .mean, seed: UInt64(classes + bits))
            c.targets[0] = 3
            c.targets[1] = Int32(classes - 2)
            c.logits[2 * classes + Int(c.targets[2])] = -80  // far below the row's maximum
            let expected = CrossEntropyReference.total(c.logitRows, c.targets, excluded: nil, c.options)
            let fd = CrossEntropyReference.gradient(c.logitRows, c.targets, excluded: nil, c.options).flatMap { $0 }
            let scale = fd.map(abs).max()!
            for inPlace in [false, true] {
                let d = try runCrossEntropy(Double.self, logits: c.logits, rows: rows, classes: classes, targets: c.targets,
                                            options: c.options, inPlace: inPlace)
                let f = try runCrossEntropy(Float.self, logits: c.logits, rows: rows, classes: classes, targets: c.targets,
                                            options: c.options, inPlace: inPlace)
                #expect(relativeError(Double(d.result.loss), expected, floor: 1e-12) <= 1e-12, "\(rows)x\(classes)")
                #expect(relativeError(Double(f.result.loss), expected, floor: 1e-12) <= 1e-5, "\(rows)x\(classes)")
                for i in fd.indices {
                    #expect(abs(d.gradient[i] - fd[i]) <= 1e-6 * scale, "\(rows)x\(classes) at \(i)")
                    #expect(abs(Double(f.gradient[i]) - d.gradient[i]) <= 1e-6 * scale + c.floatRoundingFloor() * 1e-6, "\(rows)x\(classes) at \(i)")
                }
            }
        }
    }

    @Test("Logits of ±1e4 match the reference", arguments: [0, 2 | 4 | 128, 1 | 16 | 32 | 64])
    func hugeLogits(bits: Int) throws {
        let c = CrossEntropyCase(rows: 6, classes: 29, bits: bits, reduction: .sum, seed: 77, scale: 1e4)
        let expected = CrossEntropyReference.total(c.logitRows, c.targets, excluded: nil, c.options)
        let out = try runCrossEntropy(Float.self, logits: c.logits, rows: c.rows, classes: c.classes, targets: c.targets,
                                      options: c.options)
        #expect(out.result.loss.isFinite)
        #expect(relativeError(Double(out.result.loss), expected) <= 1e-5)
        let d = try runCrossEntropy(Double.self, logits: c.logits, rows: c.rows, classes: c.classes, targets: c.targets,
                                    options: c.options)
        let gScale = d.gradient.map { abs($0) }.max()!
        for i in d.gradient.indices { #expect(abs(Double(out.gradient[i]) - d.gradient[i]) <= 1e-6 * gScale) }
    }

    @Test("A tiny loss keeps its relative accuracy in Float (p_y = 1 − 1e-10)")
    func tinyLoss() throws {
        let logits = [0.0, -23, -30, -25.5]
        let expected = log1p(exp(-23.0) + exp(-30) + exp(-25.5))
        let out = try runCrossEntropy(Float.self, logits: logits, rows: 1, classes: 4, targets: [0], options: ReferenceOptions())
        #expect(relativeError(Double(out.result.loss), expected) <= 1e-5)
        #expect(relativeError(Double(out.gradient[0]), -expected, floor: 0) <= 1e-5)
    }

    @Test("Focal loss with γ < 1 and a confident row stays finite and matches the reference")
    func focalFractionalGamma() throws {
        var o = ReferenceOptions(reduction: .sum)
        o.gamma = 0.5
        let logits = [5.0, -3, 0.5, 40, -2, -1]
        let targets: [Int32] = [0, 0]
        let rows = logits.chunked(3)
        let expected = CrossEntropyReference.total(rows, targets, excluded: nil, o)
        let fd = CrossEntropyReference.gradient(rows, targets, excluded: nil, o).flatMap { $0 }
        let out = try runCrossEntropy(Double.self, logits: logits, rows: 2, classes: 3, targets: targets, options: o)
        #expect(relativeError(out.result.loss, expected) <= 1e-12)
        for i in fd.indices { #expect(abs(out.gradient[i] - fd[i]) <= 1e-6 * max(1, abs(fd[i]))) }
    }

    @Test("The forward-only call gives the same loss and the softmax probabilities")
    func forwardOnly() throws {
        let c = CrossEntropyCase(rows: 5, classes: 19, bits: 8 | 16 | 256 | 512, reduction: .mean, seed: 5)
        let kernel = c.options.kernel(Float.self)
        let x = c.logits.map { Float($0) }
        var probabilities = [Float](repeating: -1, count: x.count)
        let result = try c.targets.withUnsafeBufferPointer { t in
            try c.mask!.withView(rows: c.rows, columns: c.classes) { mask in
                try x.withView(rows: c.rows, columns: c.classes) { xv in
                    try probabilities.withMutableView(rows: c.rows, columns: c.classes) {
                        try kernel.loss(logits: xv, targets: t, excludedClasses: mask, probabilities: $0)
                    }
                }
            }
        }
        let full = try runCrossEntropy(Float.self, logits: c.logits, rows: c.rows, classes: c.classes, targets: c.targets,
                                       mask: c.mask, options: c.options)
        #expect(result.loss == full.result.loss)
        for n in 0..<c.rows {
            let r = CrossEntropyReference.row(c.logitRows[n], target: max(0, Int(c.targets[n])), excluded: c.maskRows![n], c.options)
            for j in 0..<c.classes {
                let z = c.maskRows![n][j] ? 0 : exp(((c.options.softcap.map { $0 * tanh(c.logitRows[n][j] / $0) } ?? 0)
                    - (j == Int(c.targets[n]) ? 0 : 0)) / c.options.temperature - r.lse)
                if c.targets[n] == c.options.ignoreIndex || j != Int(c.targets[n]) {
                    #expect(abs(Double(probabilities[n * c.classes + j]) - z) <= 1e-6)
                }
            }
            #expect(abs(probabilities[(n * c.classes)..<((n + 1) * c.classes)].reduce(0, +) - 1) <= 1e-5)
        }
    }

    @Test("Row strides: padded logits and gradient rows")
    func rowStrides() throws {
        let (rows, classes, stride) = (4, 10, 13)
        var random = TestRandom(seed: 12)
        let dense: [Float] = random.values(rows * classes, -2, 2)
        var padded = [Float](repeating: .nan, count: rows * stride)
        for n in 0..<rows { for j in 0..<classes { padded[n * stride + j] = dense[n * classes + j] } }
        let targets: [Int32] = [3, 0, 9, 5]
        var gradient = [Float](repeating: 99, count: rows * 17)
        let kernel = SoftmaxCrossEntropy<Float>()
        _ = try targets.withUnsafeBufferPointer { t in
            try padded.withUnsafeBufferPointer { p in
                try gradient.withUnsafeMutableBufferPointer { g in
                    try kernel.lossAndGradient(logits: MatrixView(p, rows: rows, columns: classes, rowStride: stride), targets: t,
                                               gradient: MutableMatrixView(g, rows: rows, columns: classes, rowStride: 17))
                }
            }
        }
        let reference = try runCrossEntropy(Float.self, logits: dense.map { Double($0) }, rows: rows, classes: classes,
                                            targets: targets, options: ReferenceOptions())
        for n in 0..<rows {
            for j in 0..<17 {
                if j < classes { #expect(gradient[n * 17 + j] == reference.gradient[n * classes + j]) } else { #expect(gradient[n * 17 + j] == 99) }
            }
        }
    }

    @Test("gradientScale multiplies the gradient only")
    func gradientScale() throws {
        let c = CrossEntropyCase(rows: 3, classes: 5, bits: 3, reduction: .mean, seed: 3)
        let one = try runCrossEntropy(Double.self, logits: c.logits, rows: 3, classes: 5, targets: c.targets, options: c.options)
        let three = try runCrossEntropy(Double.self, logits: c.logits, rows: 3, classes: 5, targets: c.targets, options: c.options,
                                        gradientScale: 3)
        #expect(one.result.loss == three.result.loss)
        for i in one.gradient.indices { #expect(abs(three.gradient[i] - 3 * one.gradient[i]) <= 1e-15) }
    }
}

extension Array {
    /// Consecutive slices of `size` elements as arrays.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min(count, $0 + size)]) }
    }
}

@Suite("Cross-entropy over owning matrices")
struct CrossEntropyMatrixTests {
    @Test("The Matrix convenience equals the view call")
    func matrixConvenience() throws {
        let c = CrossEntropyCase(rows: 4, classes: 6, bits: 2, reduction: .mean, seed: 31)
        let logits = try Matrix(rows: 4, columns: 6, elements: c.logits.map { Float($0) })
        let (result, gradient) = try c.options.kernel(Float.self).lossAndGradient(logits: logits, targets: c.targets)
        let direct = try runCrossEntropy(Float.self, logits: c.logits, rows: 4, classes: 6, targets: c.targets, options: c.options)
        #expect(result == direct.result)
        #expect(gradient.storage == direct.gradient)
    }
}
