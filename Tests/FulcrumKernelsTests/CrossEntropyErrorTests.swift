import Foundation
import Testing
@testable import FulcrumKernels

@Suite("Cross-entropy: bad input and non-finite logits")
struct CrossEntropyErrorTests {
    /// Runs a 2×3 Float call with the given changes and returns what it throws.
    func failure(
        options: ReferenceOptions = ReferenceOptions(), targets: [Int32] = [0, 2], rows: Int = 2,
        mask: [UInt8]? = nil, logits: [Double]? = nil, gradientScale: Float = 1
    ) -> FulcrumError? {
        do {
            _ = try runCrossEntropy(Float.self, logits: logits ?? (0..<(rows * 3)).map { Double($0) * 0.1 }, rows: rows,
                                    classes: 3, targets: targets, mask: mask, options: options, gradientScale: gradientScale)
            return nil
        } catch let error as FulcrumError {
            return error
        } catch {
            return nil
        }
    }

    /// The argument an error names.
    func argument(_ error: FulcrumError?) -> String? {
        switch error {
        case let .shapeMismatch(argument, _, _), let .indexOutOfRange(argument, _, _, _), let .invalidParameter(argument, _, _),
             let .nonFiniteValue(argument, _, _), let .emptyReduction(argument, _), let .invalidBuffer(argument, _):
            return argument
        default:
            return nil
        }
    }

    @Test("Each bad option throws naming the option")
    func badOptions() {
        var o = ReferenceOptions()
        o.smoothing = 1
        #expect(argument(failure(options: o)) == "labelSmoothing")
        o = ReferenceOptions(); o.smoothing = -0.1
        #expect(argument(failure(options: o)) == "labelSmoothing")
        o = ReferenceOptions(); o.temperature = 0
        #expect(argument(failure(options: o)) == "temperature")
        o = ReferenceOptions(); o.temperature = .nan
        #expect(argument(failure(options: o)) == "temperature")
        o = ReferenceOptions(); o.softcap = -1
        #expect(argument(failure(options: o)) == "logitSoftcap")
        o = ReferenceOptions(); o.softcap = 0
        #expect(argument(failure(options: o)) == "logitSoftcap")
        o = ReferenceOptions(); o.gamma = -1
        #expect(argument(failure(options: o)) == "focalGamma")
        o = ReferenceOptions(); o.zLoss = .infinity
        #expect(argument(failure(options: o)) == "zLossCoefficient")
        o = ReferenceOptions(); o.weights = [1, -1, 1]
        #expect(failure(options: o) == .invalidParameter(argument: "classWeights[1]", value: "-1.0", requirement: "finite and >= 0"))
        o = ReferenceOptions(); o.weights = [1, .nan, 1]
        #expect(argument(failure(options: o)) == "classWeights[1]")
        o = ReferenceOptions(); o.weights = [1, 1]
        #expect(argument(failure(options: o)) == "classWeights")
        o = ReferenceOptions(); o.offsets = [0, .infinity, 0]
        #expect(argument(failure(options: o)) == "classOffsets[1]")
        o = ReferenceOptions(); o.margins = [0, 0]
        #expect(argument(failure(options: o)) == "targetMargins")
        #expect(argument(failure(gradientScale: .nan)) == "gradientScale")
    }

    @Test("A loss that finite logits and valid options take past Float throws naming the options")
    func overflowingLoss() {
        // z = x/T overflows Float (the loss and gradient were NaN), the z-loss s·lse² overflows (+inf),
        // and finite logits of opposite extreme signs make −log p_y itself 6e38.
        #expect(argument(failure(options: ReferenceOptions(temperature: 1e-40))) == "temperature")
        #expect(argument(failure(options: ReferenceOptions(zLoss: 3e38))) == "zLossCoefficient")
        #expect(argument(failure(targets: [1, 2], logits: [3e38, -3e38, 0, 0, 1, 2])) == "logits")
        #expect(failure(options: ReferenceOptions(temperature: 1e-3)) == nil)
    }

    @Test("Targets out of range, masks excluding the target, empty means")
    func badTargets() {
        #expect(failure(targets: [0, 3]) == .indexOutOfRange(argument: "targets", position: 1, value: 3, validRange: "0..<3"))
        #expect(failure(targets: [-1, 0]) == .indexOutOfRange(argument: "targets", position: 0, value: -1, validRange: "0..<3"))
        #expect(argument(failure(targets: [0])) == "targets")  // wrong length
        #expect(argument(failure(mask: [0, 0, 0, 0, 0, 1])) == "excludedClasses")  // row 1 excludes its target 2
        #expect(argument(failure(targets: [], rows: 0)) == "targets")  // empty batch, mean
        #expect(argument(failure(targets: [-100, -100])) == "targets")  // every row ignored, mean
        var o = ReferenceOptions()
        o.weights = [0, 1, 0]
        #expect(argument(failure(options: o, targets: [0, 2])) == "classWeights")  // weights of the targets sum to 0
        o = ReferenceOptions(reduction: .sum)
        #expect(failure(options: o, targets: [], rows: 0) == nil)  // a sum over nothing is 0
    }

    @Test("Mismatched output shapes are named")
    func badShapes() throws {
        let kernel = SoftmaxCrossEntropy<Float>()
        let logits = [Float](repeating: 0, count: 6)
        var gradient = [Float](repeating: 0, count: 8)
        let targets: [Int32] = [0, 1]
        #expect(throws: FulcrumError.shapeMismatch(argument: "gradient", expected: "2x3", actual: "2x4")) {
            try targets.withUnsafeBufferPointer { t in
                try logits.withView(rows: 2, columns: 3) { x in
                    try gradient.withMutableView(rows: 2, columns: 4) { try kernel.lossAndGradient(logits: x, targets: t, gradient: $0) }
                }
            }
        }
        var losses = [Float](repeating: 0, count: 3)
        #expect(throws: FulcrumError.shapeMismatch(argument: "rowLosses", expected: "2", actual: "3")) {
            try targets.withUnsafeBufferPointer { t in
                try logits.withView(rows: 2, columns: 3) { x in
                    try losses.withUnsafeMutableBufferPointer { try kernel.loss(logits: x, targets: t, rowLosses: $0) }
                }
            }
        }
        let mask = [UInt8](repeating: 0, count: 3)
        #expect(throws: FulcrumError.shapeMismatch(argument: "excludedClasses", expected: "2x3", actual: "1x3")) {
            try targets.withUnsafeBufferPointer { t in
                try logits.withView(rows: 2, columns: 3) { x in
                    try mask.withView(rows: 1, columns: 3) { try kernel.loss(logits: x, targets: t, excludedClasses: $0) }
                }
            }
        }
        #expect(throws: FulcrumError.self) {
            try logits.withUnsafeBufferPointer { try MatrixView($0, rows: 2, columns: 4) }  // 6 elements cannot hold 2x4
        }
    }

    @Test("A non-finite logit throws naming its row and column, or gives that row NaN", arguments: [Float.nan, .infinity, -.infinity])
    func nonFinite(value: Float) throws {
        var logits = (0..<12).map { Double($0) * 0.3 }
        logits[7] = Double(value)  // row 1, column 3
        let targets: [Int32] = [0, 1, 2]
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: 1, column: 3)) {
            _ = try runCrossEntropy(Float.self, logits: logits, rows: 3, classes: 4, targets: targets, options: ReferenceOptions())
        }
        let out = try runCrossEntropy(Float.self, logits: logits, rows: 3, classes: 4, targets: targets,
                                      options: ReferenceOptions(reduction: .none), policy: .propagateNaN)
        #expect(out.result.loss.isNaN)
        #expect(out.rowLosses[1].isNaN && out.rowLosses[0].isFinite && out.rowLosses[2].isFinite)
        #expect(out.gradient[4..<8].allSatisfy { $0.isNaN })
        #expect(out.gradient[0..<4].allSatisfy { $0.isFinite } && out.gradient[8..<12].allSatisfy { $0.isFinite })
    }

    @Test("Non-finite logits in ignored rows or excluded classes are never read")
    func nonFiniteUnread() throws {
        var logits = (0..<12).map { Double($0) * 0.3 }
        logits[5] = .nan  // row 1 (ignored)
        logits[11] = .infinity  // row 2, column 3 (excluded)
        var mask = [UInt8](repeating: 0, count: 12)
        mask[11] = 1
        let out = try runCrossEntropy(Float.self, logits: logits, rows: 3, classes: 4, targets: [0, -100, 2], mask: mask,
                                      options: ReferenceOptions())
        #expect(out.result.loss.isFinite)
        #expect(out.gradient.allSatisfy { $0.isFinite })
        #expect(out.gradient[11] == 0)
    }

    @Test("In-place: a validation error leaves the buffer untouched")
    func inPlaceUntouched() throws {
        var logits: [Float] = [1, 2, 3, 4, 5, 6]
        let before = logits
        let kernel = SoftmaxCrossEntropy<Float>()
        let targets: [Int32] = [0, 5]
        #expect(throws: FulcrumError.self) {
            try targets.withUnsafeBufferPointer { t in
                try logits.withMutableView(rows: 2, columns: 3) { try kernel.lossAndGradient(inPlace: $0, targets: t) }
            }
        }
        #expect(logits == before)
    }

    /// Short rows run passes A and B as one, into scratch memory: the row that turns out
    /// non-finite must still hold its logits.
    @Test("In-place: after a non-finite logit throws, each row holds its logits or its gradient", arguments: [Float.nan, .infinity])
    func inPlaceNonFinite(value: Float) throws {
        let (rows, classes) = (3, 21)
        var logits = (0..<(rows * classes)).map { Float($0 % 7) * 0.4 - 1 }
        logits[classes + 17] = value
        let before = logits
        let targets: [Int32] = [2, 20, 9]
        let kernel = SoftmaxCrossEntropy<Float>(nonFinitePolicy: .propagateNaN)
        var gradient = [Float](repeating: 0, count: rows * classes)
        try targets.withUnsafeBufferPointer { t in
            try before.withUnsafeBufferPointer { x in
                try gradient.withMutableView(rows: rows, columns: classes) {
                    _ = try kernel.lossAndGradient(logits: try MatrixView(x, rows: rows, columns: classes), targets: t, gradient: $0)
                }
            }
        }
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: 1, column: 17)) {
            try targets.withUnsafeBufferPointer { t in
                try logits.withMutableView(rows: rows, columns: classes) { try SoftmaxCrossEntropy<Float>().lossAndGradient(inPlace: $0, targets: t) }
            }
        }
        for n in 0..<rows {
            let range = (n * classes)..<((n + 1) * classes)
            let row = Array(logits[range])
            if n == 1 {
                #expect(row.elementsEqual(before[range]) { $0 == $1 || ($0.isNaN && $1.isNaN) })
            } else {
                #expect(row == Array(before[range]) || row == Array(gradient[range]))
            }
        }
    }
}

@Suite("Cross-entropy determinism", .serialized)
struct CrossEntropyDeterminismTests {
    @Test("Bitwise identical outputs with 1 and 2 threads")
    func threadCounts() throws {
        let c = CrossEntropyCase(rows: 257, classes: 1000, bits: 1 | 2 | 4 | 128 | 512, reduction: .mean, seed: 21)
        let linear = LinearCrossEntropyTests.Problem(rows: 300, hidden: 24, classes: 333, seed: 4)
        var runs: [(KernelOutput<Float>, LinearCrossEntropyTests.Gradients)] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            runs.append((try runCrossEntropy(Float.self, logits: c.logits, rows: c.rows, classes: c.classes, targets: c.targets,
                                             options: c.options),
                         try linear.fused(chunkByteLimit: 40_000)))
        }
        try Threads.setCount(Threads.processorCount)
        #expect(runs[0].0.result == runs[1].0.result)
        #expect(runs[0].0.gradient.map(\.bitPattern) == runs[1].0.gradient.map(\.bitPattern))
        #expect(runs[0].1 == runs[1].1)
    }
}
