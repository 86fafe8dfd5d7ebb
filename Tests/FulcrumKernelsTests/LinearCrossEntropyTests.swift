import Foundation
import Testing
@testable import FulcrumKernels

@Suite("Fused linear cross-entropy")
struct LinearCrossEntropyTests {
    /// Loss and gradients of one call, compared bitwise by `==`.
    struct Gradients: Equatable {
        var loss: Float
        var hidden: [UInt32], weight: [UInt32], bias: [UInt32]
        var dX: [Float] { hidden.map(Float.init(bitPattern:)) }
        var dW: [Float] { weight.map(Float.init(bitPattern:)) }
        var db: [Float] { bias.map(Float.init(bitPattern:)) }
    }

    /// A random problem X (N×H), W (V×H), b (V), targets.
    struct Problem {
        var rows: Int, hidden: Int, classes: Int
        var x: [Float], w: [Float], b: [Float]
        var targets: [Int32]
        var loss = SoftmaxCrossEntropy<Float>(labelSmoothing: 0.1, zLossCoefficient: 1e-3)

        init(rows: Int, hidden: Int, classes: Int, seed: UInt64) {
            var random = TestRandom(seed: seed)
            (self.rows, self.hidden, self.classes) = (rows, hidden, classes)
            x = random.values(rows * hidden, -1, 1)
            w = random.values(classes * hidden, -0.5, 0.5)
            b = random.values(classes, -0.2, 0.2)
            targets = (0..<rows).map { n in n % 7 == 3 ? -100 : Int32(random.below(classes)) }
        }

        /// The fused call with a given chunk limit.
        func fused(chunkByteLimit: Int) throws -> Gradients {
            var dX = [Float](repeating: .nan, count: rows * hidden)
            var dW = [Float](repeating: .nan, count: classes * hidden)
            var db = [Float](repeating: .nan, count: classes)
            let op = LinearCrossEntropy(crossEntropy: loss, chunkByteLimit: chunkByteLimit)
            let result = try x.withView(rows: rows, columns: hidden) { xv in
                try w.withView(rows: classes, columns: hidden) { wv in
                    try b.withUnsafeBufferPointer { bias in
                        try targets.withUnsafeBufferPointer { t in
                            try dX.withMutableView(rows: rows, columns: hidden) { gx in
                                try dW.withMutableView(rows: classes, columns: hidden) { gw in
                                    try db.withUnsafeMutableBufferPointer { gb in
                                        try op.lossAndGradients(hidden: xv, weight: wv, bias: bias, targets: t,
                                                                hiddenGradient: gx, weightGradient: gw, biasGradient: gb)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return Gradients(loss: result.loss, hidden: dX.map(\.bitPattern), weight: dW.map(\.bitPattern), bias: db.map(\.bitPattern))
        }

        /// Logits materialised in Double, the CE kernel in Double, then the gradients by loops.
        func materialised() throws -> (loss: Double, dX: [Double], dW: [Double], db: [Double]) {
            var logits = [Double](repeating: 0, count: rows * classes)
            for n in 0..<rows {
                for v in 0..<classes {
                    var s = Double(b[v])
                    for k in 0..<hidden { s += Double(x[n * hidden + k]) * Double(w[v * hidden + k]) }
                    logits[n * classes + v] = s
                }
            }
            let o = ReferenceOptions(smoothing: 0.1, zLoss: 1e-3)
            let out = try runCrossEntropy(Double.self, logits: logits, rows: rows, classes: classes, targets: targets, options: o)
            let g = out.gradient
            var dX = [Double](repeating: 0, count: rows * hidden), dW = [Double](repeating: 0, count: classes * hidden)
            var db = [Double](repeating: 0, count: classes)
            for n in 0..<rows {
                for v in 0..<classes {
                    let gv = g[n * classes + v]
                    db[v] += gv
                    for k in 0..<hidden {
                        dX[n * hidden + k] += gv * Double(w[v * hidden + k])
                        dW[v * hidden + k] += gv * Double(x[n * hidden + k])
                    }
                }
            }
            return (out.result.loss, dX, dW, db)
        }
    }

    /// max|a − b| / max|b|.
    func relativeMaxError(_ a: [Float], _ b: [Double]) -> Double {
        zip(a, b).map { abs(Double($0) - $1) }.max()! / b.map(abs).max()!
    }

    @Test("Equals linear-then-cross-entropy materialised, for one chunk and for many", arguments: [1 << 30, 40_000, 1])
    func matchesMaterialised(chunkByteLimit: Int) throws {
        let p = Problem(rows: 97, hidden: 33, classes: 150, seed: 1)
        let fused = try p.fused(chunkByteLimit: chunkByteLimit)
        let reference = try p.materialised()
        #expect(relativeError(Double(fused.loss), reference.loss) <= 1e-5)
        #expect(relativeMaxError(fused.dW, reference.dW) <= 1e-4)
        #expect(relativeMaxError(fused.dX, reference.dX) <= 1e-4)
        #expect(relativeMaxError(fused.db, reference.db) <= 1e-4)
        // Ignored rows (every 7th from row 3) get a zero hidden gradient.
        #expect(fused.dX[(3 * p.hidden)..<(4 * p.hidden)].allSatisfy { $0 == 0 })
    }

    @Test("Chunk size changes the gradients only by GEMM rounding")
    func chunkIndependence() throws {
        let p = Problem(rows: 64, hidden: 16, classes: 40, seed: 2)
        let whole = try p.fused(chunkByteLimit: 1 << 30)
        let rows = try p.fused(chunkByteLimit: 1)
        // The loss comes from the same CE rows summed in the same order; the logits of a row may
        // differ in the last bit because the GEMM blocks a 1-row chunk differently.
        #expect(relativeError(Double(whole.loss), Double(rows.loss)) <= 1e-6)
        #expect(relativeMaxError(rows.dX, whole.dX.map(Double.init)) <= 1e-5)
        #expect(relativeMaxError(rows.dW, whole.dW.map(Double.init)) <= 1e-5)
    }

    @Test("Bad shapes are named")
    func badShapes() {
        var p = Problem(rows: 4, hidden: 3, classes: 5, seed: 3)
        p.b = [0, 0]
        #expect(throws: FulcrumError.shapeMismatch(argument: "bias", expected: "5", actual: "2")) { _ = try p.fused(chunkByteLimit: 1 << 20) }
        p = Problem(rows: 4, hidden: 3, classes: 5, seed: 3)
        p.targets[2] = 5
        #expect(throws: FulcrumError.indexOutOfRange(argument: "targets", position: 2, value: 5, validRange: "0..<5")) {
            _ = try p.fused(chunkByteLimit: 1 << 20)
        }
        p = Problem(rows: 4, hidden: 3, classes: 5, seed: 3)
        p.b[1] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "bias", row: 1, column: 0)) { _ = try p.fused(chunkByteLimit: 1 << 20) }
        p = Problem(rows: 4, hidden: 3, classes: 5, seed: 3)
        p.x[7] = .infinity  // row 2: its logits become non-finite
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: 2, column: 0)) { _ = try p.fused(chunkByteLimit: 24) }
    }
}
