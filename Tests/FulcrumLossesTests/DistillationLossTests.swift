import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Plain Double distillation reference from the definitions.
enum DistillationReference {
    static func softmax(_ z: [Double]) -> [Double] {
        let lse = logSumExp(z)
        return z.map { exp($0 - lse) }
    }

    static func entropy(_ p: [Double]) -> Double { -p.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) } }

    static func kl(_ p: [Double], _ q: [Double]) -> Double {
        zip(p, q).reduce(0) { $0 + $1.0 * (log($1.0) - log($1.1)) }
    }

    static func total(student: [Double], teacher: [Double], rows: Int, classes: Int, ts: Double, tt: Double,
                      squared: Bool, balance: DivergenceBalance, reduction: Reduction) -> Double {
        var sum = 0.0
        for n in 0..<rows {
            let r = (n * classes)..<((n + 1) * classes)
            let ps = softmax(student[r].map { $0 / ts }), pt = softmax(teacher[r].map { $0 / tt })
            let (f, rv) = (kl(pt, ps), kl(ps, pt))
            let w: (Double, Double)
            switch balance {
            case .forward: w = (1, 0)
            case .reverse: w = (0, 1)
            case .weighted(let a, let b): w = (a, b)
            case .entropyGap(let d): w = entropy(ps) > entropy(pt) ? (1, d) : (d, 1)
            }
            sum += (squared ? ts * ts : 1) * (w.0 * f + w.1 * rv)
        }
        return reduction == .mean ? sum / Double(rows) : sum
    }
}

func runDistillation<T: FulcrumFloat>(_ loss: DistillationLoss<T>, student: [Double], teacher: [Double],
                                      rows: Int, classes: Int) throws -> (result: DistillationResult<T>, gradient: [Double]) {
    let (s, t) = (student.map { T($0) }, teacher.map { T($0) })
    var g = [T](repeating: -7, count: s.count)
    let result = try s.withView(rows: rows, columns: classes) { sv in
        try t.withView(rows: rows, columns: classes) { tv in
            try g.withMutableView(rows: rows, columns: classes) {
                try loss.lossAndGradient(studentLogits: sv, teacherLogits: tv, studentGradient: $0)
            }
        }
    }
    return (result, g.map { Double($0) })
}

@Suite("Distillation: fused forward/reverse KL, BD-KD balance, MTARD temperatures")
struct DistillationLossTests {
    static let balances: [DivergenceBalance] = [.forward, .reverse, .weighted(forward: 0.3, reverse: 1.7), .entropyGap(amplification: 2.5)]

    @Test("Every balance, temperature pair and reduction matches the reference and finite differences",
          arguments: [Reduction.none, .sum, .mean])
    func againstReference(reduction: Reduction) throws {
        for (rows, classes) in [(1, 1), (2, 3), (3, 9), (4, 21)] {
            for balance in Self.balances {
                for (ts, tt, squared) in [(1.0, 1.0, true), (3.0, 3.0, true), (2.0, 0.7, false)] {
                    var random = TestRandom(seed: UInt64(rows * 97 + classes))
                    let s = random.values(rows * classes, -3, 3), t = random.values(rows * classes, -4, 4)
                    let loss = DistillationLoss<Double>(temperature: ts, teacherTemperature: tt, scalesByTemperatureSquared: squared,
                                                        balance: balance, reduction: reduction)
                    let reference = { (x: [Double]) in
                        DistillationReference.total(student: x, teacher: t, rows: rows, classes: classes, ts: ts, tt: tt,
                                                    squared: squared, balance: balance, reduction: reduction)
                    }
                    let double = try runDistillation(loss, student: s, teacher: t, rows: rows, classes: classes)
                    #expect(abs(double.result.loss - reference(s)) <= 1e-12 * max(1, abs(reference(s))), "\(balance) \(rows)x\(classes)")
                    #expect(maxRelativeError(double.gradient, finiteDifferences(s, reference), floor: 1e-9) <= 1e-6, "\(balance)")
                    let float = try runDistillation(
                        DistillationLoss<Float>(temperature: Float(ts), teacherTemperature: Float(tt), scalesByTemperatureSquared: squared,
                                                balance: balance, reduction: reduction),
                        student: s, teacher: t, rows: rows, classes: classes)
                    let label = "\(balance) \(rows)x\(classes) T=\(ts),\(tt)"
                    #expect(abs(Double(float.result.loss) - double.result.loss) <= 1e-5 * max(1e-2, abs(double.result.loss)), "\(label)")
                    #expect(maxRelativeError(float.gradient, double.gradient, floor: 1e-6) <= 1e-5, "\(label)")
                }
            }
        }
    }

    @Test("KL(p‖p) = 0 with an exactly zero gradient, in both directions")
    func identicalRows() throws {
        var random = TestRandom(seed: 3)
        let x = random.values(5 * 37, -6, 6)
        for balance in Self.balances {
            let r = try runDistillation(DistillationLoss<Float>(temperature: 2, balance: balance), student: x, teacher: x, rows: 5, classes: 37)
            #expect(r.result.loss == 0 && r.result.forwardKL == 0 && r.result.reverseKL == 0)
            #expect(r.gradient.allSatisfy { $0 == 0 })
        }
        // Finite logits whose sum t + s overflows Float: the row used to be taken for a non-finite
        // one, left out of the loss, with its gradient row holding raw exponentials.
        let huge = [3e38, 0, 0, 3e38, 1, 0]
        let r = try runDistillation(DistillationLoss<Float>(temperature: 4), student: huge, teacher: huge, rows: 2, classes: 3)
        #expect(r.result.loss == 0 && r.gradient.allSatisfy { $0 == 0 })
    }

    @Test("T² scaling multiplies the loss and gradient by T²")
    func temperatureSquared() throws {
        var random = TestRandom(seed: 4)
        let s = random.values(2 * 10, -2, 2), t = random.values(2 * 10, -2, 2)
        let a = try runDistillation(DistillationLoss<Double>(temperature: 3), student: s, teacher: t, rows: 2, classes: 10)
        let b = try runDistillation(DistillationLoss<Double>(temperature: 3, scalesByTemperatureSquared: false), student: s, teacher: t, rows: 2, classes: 10)
        #expect(relativeError(a.result.loss, 9 * b.result.loss) <= 1e-14)
        #expect(maxRelativeError(a.gradient, b.gradient.map { 9 * $0 }) <= 1e-14)
    }

    @Test("In place: the same bits as a separate gradient; a non-finite logit in a later chunk is still named")
    func inPlace() throws {
        let (rows, classes) = (3, 1100)  // three chunks per row, the last one partial
        var random = TestRandom(seed: 9)
        let s = random.values(rows * classes, -4, 4).map { Float($0) }, t = random.values(rows * classes, -4, 4).map { Float($0) }
        for balance in Self.balances {
            let kd = DistillationLoss<Float>(temperature: 2, balance: balance)
            let separate = try runDistillation(kd, student: s.map { Double($0) }, teacher: t.map { Double($0) }, rows: rows, classes: classes)
            var x = s
            let result = try t.withView(rows: rows, columns: classes) { tv in
                try x.withMutableView(rows: rows, columns: classes) { sv in
                    try kd.lossAndGradient(studentLogits: MatrixView(sv), teacherLogits: tv, studentGradient: sv)
                }
            }
            #expect(result == separate.result, "\(balance)")
            #expect(x.map { Double($0) }.map(\.bitPattern) == separate.gradient.map(\.bitPattern), "\(balance)")
        }
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = s
            x[classes + 700] = bad  // row 1, the second chunk: the first chunk is written before it is read
            t.withView(rows: rows, columns: classes) { tv in
                x.withMutableView(rows: rows, columns: classes) { sv in
                    #expect(throws: FulcrumError.nonFiniteValue(argument: "studentLogits", row: 1, column: 700), "\(bad)") {
                        try DistillationLoss<Float>().lossAndGradient(studentLogits: MatrixView(sv), teacherLogits: tv, studentGradient: sv)
                    }
                }
            }
        }
        // The student's memory with another row stride is not in place: it throws.
        var wide = s + s
        #expect(thrownArgument {
            _ = try t.withView(rows: rows, columns: classes) { tv in
                try wide.withUnsafeMutableBufferPointer { p in
                    let sv = try MatrixView(UnsafeBufferPointer(p), rows: rows, columns: classes, rowStride: 2 * classes)
                    try DistillationLoss<Float>().lossAndGradient(studentLogits: sv, teacherLogits: tv,
                                                                  studentGradient: try MutableMatrixView(p, rows: rows, columns: classes))
                }
            }
        } == "studentGradient")
    }

    @Test("Bad input throws naming the argument")
    func badInput() throws {
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        func attempt(_ loss: DistillationLoss<Float>, teacherColumns: Int = 3, teacher: [Float]? = nil) -> String? {
            thrownArgument {
                _ = try x.withView(rows: 2, columns: 3) { sv in
                    try (teacher ?? x).withView(rows: 6 / teacherColumns, columns: teacherColumns) { tv in
                        try loss.loss(studentLogits: sv, teacherLogits: tv)
                    }
                }
            }
        }
        #expect(attempt(DistillationLoss(temperature: 0)) == "temperature")
        #expect(attempt(DistillationLoss(temperature: -1)) == "temperature")
        #expect(attempt(DistillationLoss(temperature: 1, teacherTemperature: .nan)) == "teacherTemperature")
        #expect(attempt(DistillationLoss(balance: .weighted(forward: -1, reverse: 1))) == "balance")
        #expect(attempt(DistillationLoss(balance: .entropyGap(amplification: 0.5))) == "balance")
        #expect(attempt(DistillationLoss(), teacherColumns: 2) == "teacherLogits")
        #expect(attempt(DistillationLoss(), teacher: [1, 2, 3, 4, .infinity, 6]) == "teacherLogits")
        // Rows without a class: no softmax to compare (it was a silent NaN).
        let noClass = MatrixView<Float>(unchecked: nil, rows: 2, columns: 0, rowStride: 0)
        #expect(thrownArgument { _ = try DistillationLoss<Float>().loss(studentLogits: noClass, teacherLogits: noClass) } == "studentLogits")
    }

    @Test("MTARD temperature: H̄(T*) hits the target; derivative matches finite differences; unreachable targets throw")
    func entropyTemperature() throws {
        var random = TestRandom(seed: 8)
        let (rows, classes) = (6, 10)
        let x = random.values(rows * classes, -5, 5)
        try x.withView(rows: rows, columns: classes) { view in
            for target in [0.05, 0.8, 1.7, 2.2] {
                let t = try EntropyTemperature.solve(logits: view, targetEntropy: target, initialTemperature: 1)
                // Independent check: the plain definition of the mean entropy at t.
                var mean = 0.0
                for n in 0..<rows {
                    mean += DistillationReference.entropy(DistillationReference.softmax(x[(n * classes)..<((n + 1) * classes)].map { $0 / t }))
                }
                #expect(abs(mean / Double(rows) - target) <= 1e-10, "target \(target) T \(t)")
            }
            let (_, slope) = try EntropyTemperature.meanEntropy(logits: view, temperature: 1.3)
            let h = 1e-5
            let fd = (try EntropyTemperature.meanEntropy(logits: view, temperature: 1.3 + h).entropy
                      - EntropyTemperature.meanEntropy(logits: view, temperature: 1.3 - h).entropy) / (2 * h)
            #expect(relativeError(slope, fd) <= 1e-7)
            for bad in [0, -1, log(Double(classes)), .nan] {
                #expect(thrownArgument { _ = try EntropyTemperature.solve(logits: view, targetEntropy: bad) } == "targetEntropy")
            }
            #expect(thrownArgument { _ = try EntropyTemperature.meanEntropy(logits: view, temperature: 0) } == "temperature")
            // A positive T whose 1/T overflows: the entropy was NaN.
            #expect(thrownArgument { _ = try EntropyTemperature.meanEntropy(logits: view, temperature: 1e-310) } == "temperature")
        }
        // Float logits (widened to Double inside), with whole vectors and a tail: the same target
        // to the same accuracy.
        let (wideRows, wide) = (5, 37)
        let xf = random.values(wideRows * wide, -6, 6).map { Float($0) }
        try xf.withView(rows: wideRows, columns: wide) { view in
            let target = 2.5
            let t = try EntropyTemperature.solve(logits: view, targetEntropy: target)
            var mean = 0.0
            for n in 0..<wideRows {
                mean += DistillationReference.entropy(DistillationReference.softmax(xf[(n * wide)..<((n + 1) * wide)].map { Double($0) / t }))
            }
            #expect(abs(mean / Double(wideRows) - target) <= 1e-10, "T \(t)")
        }
        // Two tied maxima: the entropy never drops below log 2.
        let tied: [Double] = [3, 3, 0]
        try tied.withView(rows: 1, columns: 3) { view in
            #expect(thrownArgument { _ = try EntropyTemperature.solve(logits: view, targetEntropy: 0.5) } == "targetEntropy")
        }
    }
}
