import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumLosses

/// Plain Double references for sequence log-probabilities and the preference losses.
enum PreferenceReference {
    /// Σ_t m_t·log softmax(x_t)[y_t] per sequence.
    static func sequenceLogProbabilities(_ x: [Double], vocabulary v: Int, length l: Int, targets: [Int32], mask: [UInt8]?) -> [Double] {
        let sequences = targets.count / l
        return (0..<sequences).map { b in
            var sum = 0.0
            for i in (b * l)..<((b + 1) * l) where mask?[i] ?? 1 != 0 && targets[i] != -100 {
                let row = Array(x[(i * v)..<((i + 1) * v)])
                sum += row[Int(targets[i])] - logSumExp(row)
            }
            return sum
        }
    }

    static func pairLoss(_ kind: PreferenceLoss.Kind, beta: Double, _ pw: Double, _ pl: Double, _ rw: Double, _ rl: Double,
                         _ nw: Double, _ nl: Double) -> Double {
        let margin = (pw - rw) - (pl - rl)
        func negLogSigmoid(_ h: Double) -> Double { log(1 + exp(-h)) }
        switch kind {
        case .dpo: return negLogSigmoid(beta * margin)
        case .ipo: return pow(margin - 1 / (2 * beta), 2)
        case .simpo(let gamma): return negLogSigmoid(beta * pw / nw - beta * pl / nl - gamma)
        case .rpo(let eta): return negLogSigmoid(beta * margin) - eta * beta * pw  // SFT term weighted by η·β
        }
    }
}

@Suite("Sequence log-probabilities and preference losses (DPO, IPO, SimPO, RPO)")
struct PreferenceLossTests {
    static let kinds: [PreferenceLoss.Kind] = [.dpo, .ipo, .simpo(gamma: 0.5), .rpo(eta: 0.7)]

    @Test("Sequence log-probabilities with masks: forward against the reference, backward against finite differences")
    func sequenceKernel() throws {
        let (b, l, v) = (3, 4, 7)
        var random = TestRandom(seed: 31)
        let x = random.values(b * l * v, -3, 3)
        var targets = (0..<(b * l)).map { _ in Int32(random.below(v)) }
        targets[5] = -100
        let mask: [UInt8] = (0..<(b * l)).map { $0 % 4 == 0 ? 0 : 1 }
        let upstream = [0.7, -1.3, 2.1]
        let reference = PreferenceReference.sequenceLogProbabilities(x, vocabulary: v, length: l, targets: targets, mask: mask)
        let op = SequenceLogProbabilities<Double>(sequenceLength: l)
        var logp = [Double](repeating: 0, count: b), counts = [Int32](repeating: 0, count: b)
        var gradient = [Double](repeating: 7, count: x.count)
        try x.withView(rows: b * l, columns: v) { xv in
            try targets.withUnsafeBufferPointer { t in
                try mask.withUnsafeBufferPointer { m in
                    try logp.withUnsafeMutableBufferPointer { lp in
                        try counts.withUnsafeMutableBufferPointer { c in
                            try op.forward(logits: xv, targets: t, mask: m, logProbabilities: lp, tokenCounts: c)
                        }
                    }
                    try upstream.withUnsafeBufferPointer { u in
                        try gradient.withMutableView(rows: b * l, columns: v) { try op.backward(logits: xv, targets: t, mask: m, upstream: u, gradient: $0) }
                    }
                }
            }
        }
        #expect(maxRelativeError(logp, reference) <= 1e-14)
        #expect(counts == [3, 2, 3])
        let fd = finiteDifferences(x) { probe in
            zip(PreferenceReference.sequenceLogProbabilities(probe, vocabulary: v, length: l, targets: targets, mask: mask), upstream)
                .reduce(0) { $0 + $1.0 * $1.1 }
        }
        #expect(maxRelativeError(gradient, fd) <= 1e-6)
        // Masked rows get exactly zero.
        #expect((0..<v).allSatisfy { gradient[4 * v + $0] == 0 && gradient[5 * v + $0] == 0 })
    }

    @Test("Each loss against the reference and finite differences in the log-probabilities; DPO at zero margin is log 2")
    func pairLosses() throws {
        var random = TestRandom(seed: 32)
        let pairs = 5
        let pw = random.values(pairs, -40, -5), pl = random.values(pairs, -40, -5)
        let rw = random.values(pairs, -40, -5), rl = random.values(pairs, -40, -5)
        let nw: [Int32] = [3, 8, 1, 12, 5], nl: [Int32] = [4, 2, 9, 6, 7]
        for kind in Self.kinds {
            let loss = PreferenceLoss(kind, beta: 0.2)
            func reference(_ a: [Double], _ c: [Double]) -> Double {
                (0..<pairs).reduce(0.0) { $0 + PreferenceReference.pairLoss(kind, beta: 0.2, a[$1], c[$1], rw[$1], rl[$1], Double(nw[$1]), Double(nl[$1])) } / Double(pairs)
            }
            var gw = [Double](repeating: 0, count: pairs), gl = gw
            let value = try run(loss, pw, pl, rw, rl, nw, nl, &gw, &gl)
            #expect(relativeError(value, reference(pw, pl)) <= 1e-13, "\(kind)")
            #expect(maxRelativeError(gw, finiteDifferences(pw) { reference($0, pl) }) <= 1e-6, "\(kind)")
            #expect(maxRelativeError(gl, finiteDifferences(pl) { reference(pw, $0) }) <= 1e-6, "\(kind)")
        }
        // DPO with π − r equal on both sides: h = 0, ℓ = −log σ(0) = log 2, ∂ℓ/∂π_w = −β/2.
        var gw = [0.0], gl = [0.0]
        let zero = try run(PreferenceLoss(.dpo, beta: 0.3), [-12], [-20], [-2], [-10], [1], [1], &gw, &gl)
        #expect(zero == log(2.0))
        #expect(gw == [-0.15] && gl == [0.15])
    }

    func run(_ loss: PreferenceLoss, _ pw: [Double], _ pl: [Double], _ rw: [Double], _ rl: [Double], _ nw: [Int32], _ nl: [Int32],
             _ gw: inout [Double], _ gl: inout [Double]) throws -> Double {
        try pw.withUnsafeBufferPointer { a in try pl.withUnsafeBufferPointer { b in
            try rw.withUnsafeBufferPointer { c in try rl.withUnsafeBufferPointer { d in
                try nw.withUnsafeBufferPointer { e in try nl.withUnsafeBufferPointer { f in
                    try gw.withUnsafeMutableBufferPointer { g in try gl.withUnsafeMutableBufferPointer { h in
                        try loss.lossAndGradient(policyChosen: a, policyRejected: b, referenceChosen: c, referenceRejected: d,
                                                 chosenLengths: e, rejectedLengths: f, chosenGradient: g, rejectedGradient: h)
                    } }
                } }
            } }
        } }
    }

    /// `cached`: one pair per block, its softmax rows kept in the gradient; else the two-pass path.
    @Test("End to end: every loss's gradient to the policy logits against finite differences, Float within 1e-5 of Double",
          arguments: [true, false])
    func endToEnd(cached: Bool) throws {
        let (pairs, l, v) = (2, 3, 21)  // whole vectors and a tail, Float and Double
        var random = TestRandom(seed: 33)
        let xw = random.values(pairs * l * v, -2, 2), xl = random.values(pairs * l * v, -2, 2)
        let yw = (0..<(pairs * l)).map { _ in Int32(random.below(v)) }, yl = (0..<(pairs * l)).map { _ in Int32(random.below(v)) }
        let mw: [UInt8] = [0, 1, 1, 1, 1, 0], ml: [UInt8] = [1, 1, 0, 0, 1, 1]
        let rw = [-4.0, -5.0], rl = [-3.5, -6.0]
        for kind in Self.kinds {
            let beta = 0.4
            func reference(_ a: [Double], _ c: [Double]) -> Double {
                let pw = PreferenceReference.sequenceLogProbabilities(a, vocabulary: v, length: l, targets: yw, mask: mw)
                let pl = PreferenceReference.sequenceLogProbabilities(c, vocabulary: v, length: l, targets: yl, mask: ml)
                let nw = [2.0, 2.0], nl = [2.0, 2.0]
                return (0..<pairs).reduce(0.0) { $0 + PreferenceReference.pairLoss(kind, beta: beta, pw[$1], pl[$1], rw[$1], rl[$1], nw[$1], nl[$1]) } / Double(pairs)
            }
            func step<T: FulcrumFloat>(_: T.Type) throws -> (Double, [Double], [Double]) {
                var op = PreferenceOptimization<T>(loss: PreferenceLoss(kind, beta: beta), sequenceLength: l)
                op.pairBlockBytes = cached ? 2 * l * v * MemoryLayout<T>.stride : 0
                let (a, c) = (xw.map { T($0) }, xl.map { T($0) })
                let (ra, rc) = (rw.map { T($0) }, rl.map { T($0) })
                var ga = [T](repeating: 0, count: a.count), gc = ga
                let r = try a.withView(rows: pairs * l, columns: v) { av in try c.withView(rows: pairs * l, columns: v) { cv in
                    try yw.withUnsafeBufferPointer { ty in try yl.withUnsafeBufferPointer { tl in
                        try mw.withUnsafeBufferPointer { m1 in try ml.withUnsafeBufferPointer { m2 in
                            try ra.withUnsafeBufferPointer { r1 in try rc.withUnsafeBufferPointer { r2 in
                                try ga.withMutableView(rows: pairs * l, columns: v) { g1 in try gc.withMutableView(rows: pairs * l, columns: v) { g2 in
                                    try op.lossAndGradient(chosenLogits: av, chosenTargets: ty, chosenMask: m1, rejectedLogits: cv,
                                                           rejectedTargets: tl, rejectedMask: m2, referenceChosen: r1, referenceRejected: r2,
                                                           chosenGradient: g1, rejectedGradient: g2)
                                } }
                            } }
                        } }
                    } }
                } }
                return (Double(r.loss), ga.map { Double($0) }, gc.map { Double($0) })
            }
            let (loss, ga, gc) = try step(Double.self)
            #expect(relativeError(loss, reference(xw, xl)) <= 1e-12, "\(kind)")
            #expect(maxRelativeError(ga, finiteDifferences(xw) { reference($0, xl) }) <= 1e-6, "\(kind)")
            #expect(maxRelativeError(gc, finiteDifferences(xl) { reference(xw, $0) }) <= 1e-6, "\(kind)")
            let (lossF, gaF, gcF) = try step(Float.self)
            #expect(relativeError(lossF, loss) <= 1e-5 && maxRelativeError(gaF, ga) <= 1e-5 && maxRelativeError(gcF, gc) <= 1e-5, "\(kind)")
        }
    }

    @Test("In place on the cached path: the same bits as separate gradient buffers; the two-pass path throws")
    func inPlace() throws {
        let (pairs, l, v) = (3, 4, 37)
        var random = TestRandom(seed: 34)
        let xw = random.values(pairs * l * v, -3, 3).map { Float($0) }, xl = random.values(pairs * l * v, -3, 3).map { Float($0) }
        let yw = (0..<(pairs * l)).map { _ in Int32(random.below(v)) }, yl = (0..<(pairs * l)).map { _ in Int32(random.below(v)) }
        var op = PreferenceOptimization<Float>(loss: PreferenceLoss(.dpo, beta: 0.3), sequenceLength: l)
        op.pairBlockBytes = 2 * l * v * MemoryLayout<Float>.stride  // one pair per block
        /// The result and both gradients, written over the logits or into their own buffers.
        func run(inPlace: Bool) throws -> (PreferenceResult<Float>, [Float], [Float]) {
            var (a, c) = (xw, xl)
            var ga = [Float](repeating: 0, count: a.count), gc = ga
            let reference: [Float] = [-9, -11, -10]
            let r = try yw.withUnsafeBufferPointer { ty in try yl.withUnsafeBufferPointer { tl in try reference.withUnsafeBufferPointer { ref in
                try a.withMutableView(rows: pairs * l, columns: v) { av in try c.withMutableView(rows: pairs * l, columns: v) { cv in
                    try ga.withMutableView(rows: pairs * l, columns: v) { g1 in try gc.withMutableView(rows: pairs * l, columns: v) { g2 in
                        try op.lossAndGradient(chosenLogits: MatrixView(av), chosenTargets: ty, rejectedLogits: MatrixView(cv),
                                               rejectedTargets: tl, referenceChosen: ref, referenceRejected: ref,
                                               chosenGradient: inPlace ? av : g1, rejectedGradient: inPlace ? cv : g2)
                    } }
                } }
            } } }
            return (r, inPlace ? a : ga, inPlace ? c : gc)
        }
        let (separate, overwritten) = (try run(inPlace: false), try run(inPlace: true))
        #expect(separate.0 == overwritten.0)
        #expect(separate.1.map(\.bitPattern) == overwritten.1.map(\.bitPattern))
        #expect(separate.2.map(\.bitPattern) == overwritten.2.map(\.bitPattern))
        op.pairBlockBytes = 0  // the two-pass path reads the logits again
        #expect(thrownArgument { _ = try run(inPlace: true) } == "chosenGradient")
    }

    @Test("Bad input throws naming the argument")
    func badInput() throws {
        var gw = [0.0], gl = [0.0]
        #expect(thrownArgument { _ = try run(PreferenceLoss(.dpo, beta: 0), [-1], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "beta")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.dpo, beta: -1), [-1], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "beta")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.simpo(gamma: -1), beta: 1), [-1], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "gamma")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.rpo(eta: .nan), beta: 1), [-1], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "eta")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.dpo, beta: 1), [-1], [-2, -3], [-1], [-2], [1], [1], &gw, &gl) } == "policyRejected")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.simpo(gamma: 0), beta: 1), [-1], [-2], [-1], [-2], [0], [1], &gw, &gl) } == "chosenLengths[0]")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.dpo, beta: 1), [.nan], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "policyChosen")
        // Finite parameters that scale the loss past Double (it was returned as ±inf).
        #expect(thrownArgument { _ = try run(PreferenceLoss(.dpo, beta: 1e308), [-3], [-1], [-1], [-1], [1], [1], &gw, &gl) } == "beta")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.ipo, beta: 1e-320), [-1], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "beta")
        #expect(thrownArgument { _ = try run(PreferenceLoss(.rpo(eta: 1e308), beta: 10), [-1], [-2], [-1], [-2], [1], [1], &gw, &gl) } == "beta, eta")
        // An empty batch: the two-pass path divided by zero, the cached one returned NaN.
        for blockBytes in [0, 2 << 20] {
            var step = PreferenceOptimization<Double>(loss: PreferenceLoss(.dpo, beta: 1), sequenceLength: 2)
            step.pairBlockBytes = blockBytes
            let (none, noTargets) = ([Double](), [Int32]())
            var (g1, g2) = ([Double](), [Double]())
            #expect(thrownArgument {
                try none.withView(rows: 0, columns: 3) { x in try noTargets.withUnsafeBufferPointer { t in
                    try g1.withMutableView(rows: 0, columns: 3) { a in try g2.withMutableView(rows: 0, columns: 3) { b in
                        _ = try step.lossAndGradient(chosenLogits: x, chosenTargets: t, rejectedLogits: x, rejectedTargets: t,
                                                     chosenGradient: a, rejectedGradient: b)
                    } }
                } }
            } == "chosenLogits", "pairBlockBytes \(blockBytes)")
        }
        let op = SequenceLogProbabilities<Double>(sequenceLength: 2)
        let x = [Double](repeating: 0, count: 4 * 3)
        var out = [0.0, 0.0]
        func forward(_ targets: [Int32], _ mask: [UInt8]?, length: Int = 2) -> String? {
            thrownArgument {
                try x.withView(rows: 4, columns: 3) { xv in try targets.withUnsafeBufferPointer { t in
                    try out.withUnsafeMutableBufferPointer { o in
                        if let mask {
                            try mask.withUnsafeBufferPointer { try SequenceLogProbabilities<Double>(sequenceLength: length).forward(logits: xv, targets: t, mask: $0, logProbabilities: o) }
                        } else {
                            try op.forward(logits: xv, targets: t, logProbabilities: o)
                        }
                    }
                } }
            }
        }
        #expect(forward([0, 1, 2, 0], [1, 1, 1]) == "mask")
        #expect(forward([0, 1, 2, 0], [1, 1, 0, 0]) == "mask")
        #expect(forward([0, 1, -100, -100], nil) == "targets")
        #expect(forward([0, 1, 2, 0], [1, 1, 1, 1], length: 3) == "logits")
        #expect(forward([0, 1, 2, 0], [1, 1, 1, 1], length: 0) == "sequenceLength")
    }
}
