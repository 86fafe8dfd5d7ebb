import Testing
import FulcrumKernels
@testable import FulcrumCalibration

@Suite("Calibration and classification metrics")
struct CalibrationMetricsTests {
    // Binary: p = [.2 .4 .6 .9], y = [0 1 1 1].
    let p: [Float] = [0.2, 0.4, 0.6, 0.9]
    let y: [Int32] = [0, 1, 1, 1]
    // Three classes: rows with (label, top confidence, hit):
    // [.7 .2 .1] y=0 (.7 hit), [.3 .6 .1] y=2 (.6 miss), [.1 .1 .8] y=2 (.8 hit), [.25 .25 .5] y=1 (.5 miss).
    let m: [Float] = [0.7, 0.2, 0.1, 0.3, 0.6, 0.1, 0.1, 0.1, 0.8, 0.25, 0.25, 0.5]
    let my: [Int32] = [0, 2, 2, 1]

    @Test func binaryByHand() throws {
        try with(p, y) { p, y, _ throws in
            // Two equal-width bins: [0, ½) holds .2, .4 (confidence .3, accuracy ½, gap .2);
            // [½, 1] holds .6, .9 (confidence .75, accuracy 1, gap .25).
            // ECE = ½·.2 + ½·.25 = .225, MCE = .25, RMSCE = √(½·.04 + ½·.0625).
            let r = try CalibrationMetrics.calibrationError(probabilities: p, labels: y, bins: 2)
            #expect(close(r.expectedCalibrationError, 0.225, 1e-7))
            #expect(close(r.maximumCalibrationError, 0.25, 1e-7))
            #expect(close(r.rootMeanSquareCalibrationError, (0.5 * 0.04 + 0.5 * 0.0625).squareRoot(), 1e-7))
            #expect(r.bins.map(\.count) == [2, 2])
            #expect(close(r.bins[1].confidence, 0.75, 1e-7) && r.bins[1].accuracy == 1)
            // Equal mass, 3 bins of sizes 2, 1, 1: gaps .2, |1 − .6| = .4, |1 − .9| = .1;
            // ECE = ½·.2 + ¼·.4 + ¼·.1 = .225, MCE = .4.
            let e = try CalibrationMetrics.calibrationError(probabilities: p, labels: y, bins: 3, binning: .equalMass)
            #expect(e.bins.map(\.count) == [2, 1, 1])
            #expect(close(e.expectedCalibrationError, 0.225, 1e-7) && close(e.maximumCalibrationError, 0.4, 1e-7))
            #expect(e.bins[0].lower == Double(Float(0.2)) && e.bins[0].upper == Double(Float(0.4)))
            // Brier: (.04 + .36 + .16 + .01)/4 = .1425.
            #expect(close(try CalibrationMetrics.brierScore(probabilities: p, labels: y), 0.1425, 1e-7))
            // Balance: .2 → right, q = .8, +.2; .4 → wrong (decides 0), q = .6, −.6;
            // .6 → right, +.4; .9 → right, +.1. Mean = .1/4 = .025.
            #expect(close(try CalibrationMetrics.balanceScore(probabilities: p, labels: y), 0.025, 1e-7))
        }
    }

    @Test func multiclassByHand() throws {
        try withMatrix(m, rows: 4, columns: 3) { m in
            try my.withUnsafeBufferPointer { y in
                // Five bins: [.4, .6) holds .5 (miss, gap .5); [.6, .8) holds .7 and .6 (one hit,
                // confidence .65, gap .15); [.8, 1] holds .8 (hit, gap .2).
                // ECE = ¼·.5 + ½·.15 + ¼·.2 = .25; MCE = .5.
                let r = try CalibrationMetrics.calibrationError(probabilities: m, labels: y, bins: 5)
                #expect(r.bins.map(\.count) == [0, 0, 1, 2, 1])
                #expect(close(r.expectedCalibrationError, 0.25, 1e-7) && close(r.maximumCalibrationError, 0.5, 1e-7))
                // Brier rows: .09+.04+.01 = .14; .09+.36+.81 = 1.26; .01+.01+.04 = .06;
                // .0625+.5625+.25 = .875; mean 2.335/4 = .58375.
                #expect(close(try CalibrationMetrics.brierScore(probabilities: m, labels: y), 0.58375, 1e-7))
                // Balance (top-label): (1−.7) + (0−.6) + (1−.8) + (0−.5) = −.6; mean −.15.
                #expect(close(try CalibrationMetrics.balanceScore(probabilities: m, labels: y), -0.15, 1e-7))
            }
        }
    }

    /// Equal-width ECE of (confidence, hit, weight) triples, written from the definition.
    static func referenceECE(_ c: [Double], _ hit: [Bool], _ w: [Double], bins: Int) -> Double {
        var total = 0.0, ece = 0.0
        for x in w { total += x }
        for b in 0..<bins {
            let (lo, hi) = (Double(b) / Double(bins), Double(b + 1) / Double(bins))
            let members = c.indices.filter { c[$0] >= lo && (c[$0] < hi || (b == bins - 1 && c[$0] <= 1)) }
            let n = members.reduce(0.0) { $0 + w[$1] }
            guard n > 0 else { continue }
            let conf = members.reduce(0.0) { $0 + w[$1] * c[$1] } / n
            let acc = members.reduce(0.0) { $0 + (hit[$1] ? w[$1] : 0) } / n
            ece += n / total * abs(acc - conf)
        }
        return ece
    }

    @Test func randomMatchesDefinition() throws {
        let (n, c) = (500, 5)
        let (p, y) = MulticlassRankingTests.problem(n, c, seed: 7)
        var g = TestGenerator(seed: 8)
        let w = (0..<n).map { _ in Float(g.unit()) }
        try withMatrix(p, rows: n, columns: c) { m in
            try y.withUnsafeBufferPointer { yb in
                try w.withUnsafeBufferPointer { wb in
                    let top = try CalibrationMetrics.calibrationError(probabilities: m, labels: yb, bins: 10, sampleWeights: wb)
                    let conf = (0..<n).map { i in Double((0..<c).map { p[i * c + $0] }.max()!) }
                    let hits = (0..<n).map { i in (0..<c).max { p[i * c + $0] < p[i * c + $1] || (p[i * c + $0] == p[i * c + $1] && $0 > $1) }! == Int(y[i]) }
                    #expect(close(top.expectedCalibrationError, Self.referenceECE(conf, hits, w.map(Double.init), bins: 10)))
                    let classwise = try CalibrationMetrics.classwiseCalibrationError(probabilities: m, labels: yb, bins: 10, sampleWeights: wb)
                    var mean = 0.0
                    for k in 0..<c {
                        let ek = Self.referenceECE((0..<n).map { Double(p[$0 * c + k]) }, y.map { $0 == Int32(k) }, w.map(Double.init), bins: 10)
                        #expect(close(classwise.perClass[k].expectedCalibrationError, ek))
                        mean += ek / Double(c)
                    }
                    #expect(close(classwise.expectedCalibrationError, mean))
                    // Equal mass: every bin holds n/B samples; the sum of counts is the weight.
                    let mass = try CalibrationMetrics.calibrationError(probabilities: m, labels: yb, bins: 7, binning: .equalMass)
                    #expect(mass.bins.map(\.count) == [72, 72, 72, 71, 71, 71, 71])
                    #expect(zip(mass.bins, mass.bins.dropFirst()).allSatisfy { $0.upper <= $1.lower })
                }
            }
        }
    }

    @Test func rowSummaryFindsTheFirstMaximum() {
        // Rows wider than a vector, values from {0,…,3} so that maxima tie across lanes and tails.
        var g = TestGenerator(seed: 15)
        for width in [1, 7, 8, 9, 16, 37, 64] {
            for _ in 0..<50 {
                let row = (0..<width).map { _ in Float(g.below(4)) }
                let summary = row.withUnsafeBufferPointer { RowSummary($0.baseAddress!, count: width) }
                let maximum = row.max()!
                #expect(summary.maximum == maximum && summary.minimum == row.min()!)
                #expect(summary.argmax == row.firstIndex(of: maximum)!, "width \(width): \(row)")
                #expect(summary.sum == row.reduce(0, +))
            }
        }
    }

    @Test func badInputThrows() throws {
        try with(p, y) { p, y, _ throws in
            #expect(throws: FulcrumError.invalidParameter(argument: "bins", value: "0", requirement: ">= 1")) {
                try CalibrationMetrics.calibrationError(probabilities: p, labels: y, bins: 0)
            }
            #expect(throws: FulcrumError.invalidParameter(argument: "bins", value: "65537", requirement: "<= 65536 (each bin is reported)")) {
                try CalibrationMetrics.calibrationError(probabilities: p, labels: y, bins: 65537, binning: .equalMass)
            }
        }
        try withMatrix(m, rows: 4, columns: 3) { m in
            try my.withUnsafeBufferPointer { y in
                // A huge count overflowed the per-block sums' size (a crash) before it was bounded.
                #expect(throws: FulcrumError.invalidParameter(argument: "bins", value: "\(Int.max)", requirement: "<= 65536 (each bin is reported)")) {
                    try CalibrationMetrics.calibrationError(probabilities: m, labels: y, bins: .max)
                }
                // The finest binning puts each row in its own bin: ECE = mean |hit − confidence|
                // = (.3 + .6 + .2 + .5)/4.
                let finest = try CalibrationMetrics.calibrationError(probabilities: m, labels: y, bins: CalibrationMetrics.maximumBins)
                #expect(finest.bins.count == 65536 && close(finest.expectedCalibrationError, 0.4, 1e-7))
            }
        }
        try with([0.2, 1.5], [0, 1]) { p, y, _ throws in
            #expect(throws: FulcrumError.invalidParameter(argument: "probabilities[1]", value: "1.5", requirement: "in [0, 1]")) {
                try CalibrationMetrics.brierScore(probabilities: p, labels: y)
            }
        }
        try with([0.2, .nan], [0, 1]) { p, y, _ throws in
            #expect(throws: FulcrumError.nonFiniteValue(argument: "probabilities", row: 1, column: 0)) {
                try CalibrationMetrics.balanceScore(probabilities: p, labels: y)
            }
        }
        try with([0.2, 0.3], [0, 1], [1, -2]) { p, y, w throws in
            #expect(throws: FulcrumError.invalidParameter(argument: "sampleWeights[1]", value: "-2.0", requirement: ">= 0")) {
                try CalibrationMetrics.calibrationError(probabilities: p, labels: y, sampleWeights: w)
            }
        }
        try with([0.2, 0.3], [0]) { p, y, _ throws in
            #expect(throws: FulcrumError.shapeMismatch(argument: "labels", expected: "2", actual: "1")) {
                try CalibrationMetrics.brierScore(probabilities: p, labels: y)
            }
        }
        // Rows must sum to 1 within 10⁻³: 0.5 + 0.51 fails, 0.5 + 0.5004 passes.
        try withMatrix([0.5, 0.51], rows: 1, columns: 2) { m in
            try [Int32(0)].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.self) { try CalibrationMetrics.calibrationError(probabilities: m, labels: y) }
                #expect(throws: FulcrumError.self) { try CalibrationMetrics.calibrationError(probabilities: m, labels: y, binning: .equalMass) }
                #expect(throws: FulcrumError.self) { try CalibrationMetrics.brierScore(probabilities: m, labels: y) }
                #expect(throws: FulcrumError.self) { try CalibrationMetrics.classwiseCalibrationError(probabilities: m, labels: y) }
            }
        }
        try withMatrix([0.5, 0.5004, 0.2, .nan], rows: 2, columns: 2) { m in
            try [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.nonFiniteValue(argument: "probabilities", row: 1, column: 1)) {
                    try CalibrationMetrics.calibrationError(probabilities: m, labels: y)
                }
                #expect(throws: Never.self) { try CalibrationMetrics.calibrationError(probabilities: m.rows(0..<1), labels: UnsafeBufferPointer(rebasing: y[0..<1])) }
            }
        }
    }

    @Test func confusionMatrixAndBalancedAccuracy() throws {
        // scikit-learn's example: y = [0 1 0 0 1 0], ŷ = [0 1 0 0 0 1]: recall 3/4 and 1/2 → .625.
        let cm = try [Int32(0), 1, 0, 0, 1, 0].withUnsafeBufferPointer { y in
            try [Int32(0), 1, 0, 0, 0, 1].withUnsafeBufferPointer { try ConfusionMatrix(labels: y, predictions: $0, classCount: 2) }
        }
        #expect(cm.counts == [3, 1, 1, 1])
        #expect(cm.balancedAccuracy() == 0.625)
        // Adjusted with K = 2: (.625 − .5)/(1 − .5) = .25.
        #expect(cm.balancedAccuracy(adjusted: true) == 0.25)
        // Three classes, class 2 never appears: recall over classes 0 and 1 only.
        let cm3 = try [Int32(0), 0, 1, 1].withUnsafeBufferPointer { y in
            try [Int32(0), 2, 1, 1].withUnsafeBufferPointer { try ConfusionMatrix(labels: y, predictions: $0, classCount: 3) }
        }
        #expect(cm3.recall == [0.5, 1, nil])
        #expect(cm3.balancedAccuracy() == 0.75)
        #expect(cm3.accuracy == 0.75)
        // From scores: arg-max rows of the hand matrix are 0, 1, 2, 2 against labels 0, 2, 2, 1.
        let fromScores = try withMatrix(m, rows: 4, columns: 3) { m in try my.withUnsafeBufferPointer { try ConfusionMatrix(labels: $0, scores: m) } }
        #expect(fromScores[0, 0] == 1 && fromScores[2, 1] == 1 && fromScores[2, 2] == 1 && fromScores[1, 2] == 1)
        #expect(throws: FulcrumError.indexOutOfRange(argument: "predictions", position: 0, value: 3, validRange: "0..<2")) {
            try [Int32(0)].withUnsafeBufferPointer { y in try [Int32(3)].withUnsafeBufferPointer { try ConfusionMatrix(labels: y, predictions: $0, classCount: 2) } }
        }
    }

    /// C² counts: C = 2³² overflowed C·C, C = 10⁵ allocated 80 GB.
    @Test func confusionMatrixBoundsTheClassCount() throws {
        for classCount in [0, ConfusionMatrix.maximumClassCount + 1, 1 << 32] {
            #expect(throws: FulcrumError.invalidParameter(argument: "classCount", value: "\(classCount)", requirement: "in 1...32768")) {
                try [Int32]().withUnsafeBufferPointer { try ConfusionMatrix(labels: $0, predictions: $0, classCount: classCount) }
            }
        }
    }

    /// No sample, or every weight 0: the accuracy was 0/0 = NaN.
    @Test func accuracyOfNothingIsNil() throws {
        let empty = try [Int32]().withUnsafeBufferPointer { try ConfusionMatrix(labels: $0, predictions: $0, classCount: 2) }
        let unweighted = try [Int32(0), 1].withUnsafeBufferPointer { y in
            try [Float(0), 0].withUnsafeBufferPointer { try ConfusionMatrix(labels: y, predictions: y, classCount: 2, sampleWeights: $0) }
        }
        for cm in [empty, unweighted] {
            #expect(cm.accuracy == nil)
            #expect(cm.balancedAccuracy() == nil)
        }
    }
}

@Suite("Calibration and temperature determinism", .serialized)
struct CalibrationDeterminismTests {
    @Test func sameBitsOnOneAndTwoThreads() throws {
        let (n, c) = (30_000, 10)
        let (p, y) = MulticlassRankingTests.problem(n, c, seed: 9)
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var results: [UInt64] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            let r = try withMatrix(p, rows: n, columns: c) { m in try y.withUnsafeBufferPointer { try CalibrationMetrics.calibrationError(probabilities: m, labels: $0) } }
            results.append(r.expectedCalibrationError.bitPattern)
        }
        #expect(results[0] == results[1])
    }

    @Test func temperatureSameBitsOnOneAndTwoThreads() throws {
        let (n, c) = (20_000, 16)
        let (x, y) = ScalingTests.synthetic(n, c, seed: 4) { _, u in 1.3 * u }
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var results: [UInt64] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            let fit = try withMatrix(x, rows: n, columns: c) { m in try y.withUnsafeBufferPointer { try TemperatureScaling(logits: m, labels: $0) } }
            results.append(fit.temperature.bitPattern)
        }
        #expect(results[0] == results[1])
    }
}
