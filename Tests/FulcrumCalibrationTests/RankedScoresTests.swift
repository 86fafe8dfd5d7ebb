import Testing
import FulcrumKernels
@testable import FulcrumCalibration

@Suite("Binary ranking metrics")
struct RankedScoresTests {
    /// Random scores from a small set of values (many ties), with random labels and weights.
    static func tiedSample(_ n: Int, seed: UInt64, levels: Int = 7) -> ([Float], [Int32], [Float]) {
        var g = TestGenerator(seed: seed)
        var s: [Float] = [], y: [Int32] = [], w: [Float] = []
        for _ in 0..<n {
            let label = Int32(g.below(2))
            s.append(Float(g.below(levels)) / Float(levels) + (label == 1 ? 0.1 : 0))
            y.append(label)
            w.append(g.below(5) == 0 ? 0 : Float(g.unit() * 3))
        }
        y[0] = 0; y[1] = 1  // both classes present
        w[0] = 1; w[1] = 1
        return (s, y, w)
    }

    @Test func scikitLearnDocumentationExample() throws {
        // y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
        // Pairs (pos, neg): 0.35>0.1 ✓, 0.35<0.4 ✗, 0.8>0.1 ✓, 0.8>0.4 ✓ → AUC = 3/4.
        // AP: at 0.8 P = 1, R = ½; at 0.35 P = 2/3, R = 1 → ½·1 + ½·⅔ = 5/6.
        let (s, y): ([Float], [Int32]) = ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        try with(s, y) { s, y, _ throws in
            let ranked = try RankedScores(scores: s, labels: y)
            #expect(try ranked.rocAUC() == 0.75)
            #expect(close(ranked.averagePrecision(), 5.0 / 6))
            // ROC points (fp, tp) at 0.8, 0.4, 0.35, 0.1: (0,1), (1,1), (1,2), (2,2) over N = P = 2.
            let roc = ranked.rocCurve()
            #expect(roc.falsePositiveRate == [0, 0, 0.5, 0.5, 1])
            #expect(roc.truePositiveRate == [0, 0.5, 0.5, 1, 1])
            #expect(roc.thresholds == [.infinity, 0.8, 0.4, 0.35, 0.1])
            // Precision of "score ≥ t" for t = 0.1, 0.35, 0.4, 0.8: 2/4, 2/3, 1/2, 1/1, then 1.
            let pr = ranked.precisionRecallCurve()
            #expect(pr.precision == [0.5, 2.0 / 3, 0.5, 1, 1])
            #expect(pr.recall == [1, 1, 0.5, 0.5, 0])
            #expect(pr.thresholds == [0.1, 0.35, 0.4, 0.8])
            // max_fpr = ½: ROC area up to FPR ½ is the run at TPR ½ of width ½ = ¼;
            // McClish: ½·(1 + (¼ − ⅛)/(½ − ⅛)) = ½·(1 + ⅓) = ⅔.
            let partial = try ranked.rocAUC(maxFPR: 0.5)
            #expect(close(partial, 2.0 / 3))
        }
    }

    @Test func tiesCountHalf() throws {
        // Positive 0.5 ties both negatives (½ + ½), positive 0.9 beats both (2): AUC = 3/4.
        try with([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]) { s, y, _ throws in
            #expect(try RankingMetrics.rocAUC(scores: s, labels: y) == 0.75)
        }
        // −0 and +0 are one score: the pair is a tie.
        try with([-0.0, 0.0], [0, 1]) { s, y, _ throws in
            #expect(try RankingMetrics.rocAUC(scores: s, labels: y) == 0.5)
        }
        // Infinities are ordinary extreme scores.
        try with([-.infinity, .infinity, 1], [0, 1, 0]) { s, y, _ throws in
            #expect(try RankingMetrics.rocAUC(scores: s, labels: y) == 1)
        }
    }

    @Test(arguments: [(40, 1), (300, 2), (1000, 3)] as [(Int, UInt64)])
    func matchesPairCountingWithManyTies(n: Int, seed: UInt64) throws {
        let (s, y, w) = Self.tiedSample(n, seed: seed)
        try with(s, y) { s1, y1, _ throws in
            let ranked = try RankedScores(scores: s1, labels: y1)
            let auc = try ranked.rocAUC()
            #expect(close(auc, Reference.pairAUROC(s, y)))
            #expect(close(ranked.averagePrecision(), Reference.averagePrecision(s, y)))
            for maxFPR in [0.05, 0.3, 0.5, 0.99] {
                let partial = try ranked.rocAUC(maxFPR: maxFPR)
                #expect(close(partial, Reference.partialAUROC(s, y, maxFPR: maxFPR)))
            }
            // Every point of the undropped curve is a reference point; dropping keeps the area.
            let full = ranked.rocCurve(dropIntermediate: false)
            let reference = Reference.rocPoints(s, y)
            #expect(full.falsePositiveRate.count == reference.count)
            for (k, point) in reference.enumerated() {
                #expect(close(full.falsePositiveRate[k], point.0) && close(full.truePositiveRate[k], point.1))
            }
            let dropped = ranked.rocCurve()
            #expect(close(trapezoid(dropped), trapezoid(full)))
            #expect(close(trapezoid(full), Reference.pairAUROC(s, y)))
        }
        try with(s, y, w) { s1, y1, w1 throws in
            let ranked = try RankedScores(scores: s1, labels: y1, sampleWeights: w1)
            let auc = try ranked.rocAUC()
            #expect(close(auc, Reference.pairAUROC(s, y, w)))
            #expect(close(ranked.averagePrecision(), Reference.averagePrecision(s, y, w)))
        }
    }

    @Test func integerWeightsEqualRepetition() throws {
        // Weight 3 on a sample is the same as three copies of it.
        let (s, y, _) = Self.tiedSample(200, seed: 9)
        var g = TestGenerator(seed: 10)
        let w = s.map { _ in Float(g.below(4)) }
        var (rs, ry): ([Float], [Int32]) = ([], [])
        for i in s.indices { for _ in 0..<Int(w[i]) { rs.append(s[i]); ry.append(y[i]) } }
        let weighted = try with(s, y, w) { try RankedScores(scores: $0, labels: $1, sampleWeights: $2) }
        let repeated = try with(rs, ry) { s, y, _ in try RankedScores(scores: s, labels: y) }
        let (a, b) = (try weighted.rocAUC(), try repeated.rocAUC())
        #expect(close(a, b))
        #expect(close(weighted.averagePrecision(), repeated.averagePrecision()))
        let (c, d) = (try weighted.rocAUC(maxFPR: 0.2), try repeated.rocAUC(maxFPR: 0.2))
        #expect(close(c, d))
    }

    @Test func exactBeyondFloat32Counting() throws {
        // 2²⁴ + 15 negatives: A = 2²⁴ + 3 at 0.1, B = 5 at 0.3, C = 7 at 0.9; 1000 positives at
        // 0.3 and 1000 at 0.05. A Float32 running count stops at 2²⁴ and loses the +3, +5, +7.
        // AUC = 1000·(A + B/2) / (2000·(A + B + C)).
        // AP: at 0.3, tp = 1000, fp = B + C = 12; at 0.05, tp = 2000, fp = A + B + C:
        // AP = ½·1000/1012 + ½·2000/(2000 + A + B + C).
        let a = (1 << 24) + 3
        var s = [Float](repeating: 0.1, count: a)
        s += [Float](repeating: 0.3, count: 5) + [Float](repeating: 0.9, count: 7)
        var y = [Int32](repeating: 0, count: s.count)
        s += [Float](repeating: 0.3, count: 1000) + [Float](repeating: 0.05, count: 1000)
        y += [Int32](repeating: 1, count: 2000)
        let negatives = Double(a + 12)
        let expectedAUC = 1000 * (Double(a) + 2.5) / (2000 * negatives)
        let expectedAP = 0.5 * 1000 / 1012 + 0.5 * 2000 / (2000 + negatives)
        try with(s, y) { s, y, _ throws in
            let ranked = try RankedScores(scores: s, labels: y)
            #expect(ranked.negativeTotal == negatives)
            let auc = try ranked.rocAUC()
            #expect(close(auc, expectedAUC, 1e-15))
            #expect(close(ranked.averagePrecision(), expectedAP, 1e-15))
            // The one-call forms agree.
            let fast = (try RankingMetrics.rocAUC(scores: s, labels: y), try RankingMetrics.averagePrecision(scores: s, labels: y))
            #expect(close(fast.0, expectedAUC, 1e-15) && close(fast.1, expectedAP, 1e-15))
        }
    }

    @Test(arguments: [(5000, 30, 1), (20_000, 1_000_000, 2), (3000, 5, 3)] as [(Int, Int, UInt64)])
    func rarePositivesMatchDefinitions(n: Int, levels: Int, seed: UInt64) throws {
        // ~2% positives, as in the benchmark, with ties and extreme scores.
        var g = TestGenerator(seed: seed)
        var s: [Float] = [], y: [Int32] = []
        for i in 0..<n {
            let positive = g.unit() < 0.02 || i == 0
            y.append(positive ? 1 : 0)
            let level = Float(g.below(levels)) / Float(levels)
            s.append(level + (positive ? 0.2 : 0))
        }
        // Extreme and signed scores: every radix digit varies.
        s[1] = -.infinity; s[2] = .infinity; s[3] = -0.0; s[4] = 1e-30; s[5] = -1e30; y[4] = 1; y[5] = 1
        let (auc, ap) = try with(s, y) { s, y, _ throws in
            (try RankingMetrics.rocAUC(scores: s, labels: y), try RankingMetrics.averagePrecision(scores: s, labels: y))
        }
        let sorted = try with(s, y) { s, y, _ throws in try RankedScores(scores: s, labels: y) }
        #expect(close(auc, Reference.pairAUROC(s, y)))
        #expect(close(auc, try sorted.rocAUC()))
        #expect(close(ap, Reference.averagePrecision(s, y)))
        #expect(close(ap, sorted.averagePrecision()))
    }

    @Test func badInputThrows() throws {
        try with([0.1, 0.2], [1, 1]) { s, y, _ throws in
            #expect(throws: FulcrumError.emptyReduction(argument: "labels", reason: "no negative sample (label 0): ranking metrics need both classes")) {
                try RankingMetrics.rocAUC(scores: s, labels: y)
            }
        }
        try with([0.1, 0.2], [0, 0]) { s, y, _ throws in
            #expect(throws: FulcrumError.emptyReduction(argument: "labels", reason: "no positive sample (label 1): ranking metrics need both classes")) {
                try RankingMetrics.averagePrecision(scores: s, labels: y)
            }
        }
        try with([0.1, .nan, 0.3], [0, 1, 0]) { s, y, _ throws in
            #expect(throws: FulcrumError.nonFiniteValue(argument: "scores", row: 1, column: 0)) { try RankingMetrics.rocAUC(scores: s, labels: y) }
        }
        // A NaN or a bad label deep in a long input (found by the parallel validation pass).
        var long = [Float](repeating: 0.5, count: 100_000), longLabels = [Int32](repeating: 0, count: 100_000)
        longLabels[7] = 1
        long[90_000] = .nan
        try with(long, longLabels) { s, y, _ throws in
            #expect(throws: FulcrumError.nonFiniteValue(argument: "scores", row: 90_000, column: 0)) { try RankingMetrics.rocAUC(scores: s, labels: y) }
        }
        long[90_000] = 0.5
        longLabels[80_000] = -1
        try with(long, longLabels) { s, y, _ throws in
            #expect(throws: FulcrumError.indexOutOfRange(argument: "labels", position: 80_000, value: -1, validRange: "0..<2")) { try RankingMetrics.averagePrecision(scores: s, labels: y) }
        }
        try with([0.1, 0.2, 0.3], [0, 1, 2]) { s, y, _ throws in
            #expect(throws: FulcrumError.indexOutOfRange(argument: "labels", position: 2, value: 2, validRange: "0..<2")) { try RankingMetrics.rocAUC(scores: s, labels: y) }
        }
        try with([0.1, 0.2, 0.3], [0, 1]) { s, y, _ throws in
            #expect(throws: FulcrumError.shapeMismatch(argument: "labels", expected: "3", actual: "2")) { try RankingMetrics.rocAUC(scores: s, labels: y) }
        }
        try with([0.1, 0.2], [0, 1], [1, -1]) { s, y, w throws in
            #expect(throws: FulcrumError.invalidParameter(argument: "sampleWeights[1]", value: "-1.0", requirement: ">= 0")) {
                try RankingMetrics.rocAUC(scores: s, labels: y, sampleWeights: w)
            }
        }
        try with([0.1, 0.2], [0, 1], [1, .nan]) { s, y, w throws in
            #expect(throws: FulcrumError.nonFiniteValue(argument: "sampleWeights", row: 1, column: 0)) {
                try RankingMetrics.averagePrecision(scores: s, labels: y, sampleWeights: w)
            }
        }
        try with([0.1, 0.2], [0, 1], [0, 1]) { s, y, w throws in
            #expect(throws: FulcrumError.emptyReduction(argument: "labels", reason: "no negative sample (label 0): ranking metrics need both classes")) {
                try RankingMetrics.rocAUC(scores: s, labels: y, sampleWeights: w)
            }
        }
        try with([0.1, 0.2], [0, 1]) { s, y, _ throws in
            for bad in [0, -0.5, 1.5, .nan] {
                #expect(throws: FulcrumError.self) { try RankingMetrics.rocAUC(scores: s, labels: y, maxFPR: bad) }
            }
            #expect(try RankingMetrics.rocAUC(scores: s, labels: y, maxFPR: 1) == 1)
        }
    }

    /// Area under a curve's points by the trapezoidal rule.
    func trapezoid(_ c: ROCCurve) -> Double {
        var area = 0.0
        for k in 1..<c.falsePositiveRate.count {
            area += (c.falsePositiveRate[k] - c.falsePositiveRate[k - 1]) * (c.truePositiveRate[k] + c.truePositiveRate[k - 1]) / 2
        }
        return area
    }
}

@Suite("Ranking determinism", .serialized)
struct RankingDeterminismTests {
    @Test func sameBitsOnOneAndTwoThreads() throws {
        var g = TestGenerator(seed: 5)
        let n = 400_000
        let s = (0..<n).map { _ in Float(g.unit()) }
        let y = (0..<n).map { _ in Int32(g.unit() < 0.05 ? 1 : 0) }
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var results: [[Double]] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            let r = try with(s, y) { s, y, _ in try RankedScores(scores: s, labels: y) }
            results.append([try r.rocAUC(), r.averagePrecision(), try r.rocAUC(maxFPR: 0.1)])
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))
    }
}
