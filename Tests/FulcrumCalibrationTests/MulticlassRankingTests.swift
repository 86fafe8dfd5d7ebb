import Testing
import FulcrumKernels
@testable import FulcrumCalibration

@Suite("Multi-class ranking and subgroups")
struct MulticlassRankingTests {
    /// n rows of C softmax-like probabilities with labels correlated with the largest column.
    static func problem(_ n: Int, _ c: Int, seed: UInt64) -> ([Float], [Int32]) {
        var g = TestGenerator(seed: seed)
        var p: [Float] = [], y: [Int32] = []
        for i in 0..<n {
            let label = i < c ? i : g.below(c)
            var row = (0..<c).map { k in Float(g.below(5) + (k == label ? 3 : 1)) }  // many ties
            let s = row.reduce(0, +)
            row = row.map { $0 / s }
            p += row
            y.append(Int32(label))
        }
        return (p, y)
    }

    @Test func oneVsRestIsPerClassBinary() throws {
        let (n, c) = (300, 4)
        let (p, y) = Self.problem(n, c, seed: 1)
        var g = TestGenerator(seed: 2)
        let w = (0..<n).map { _ in Float(g.unit() * 2) }
        for weights in [nil, w] as [[Float]?] {
            let auc = try withMatrix(p, rows: n, columns: c) { m in
                try y.withUnsafeBufferPointer { y in
                    if let weights { return try weights.withUnsafeBufferPointer { try RankingMetrics.rocAUCOneVsRest(probabilities: m, labels: y, sampleWeights: $0) } }
                    return try RankingMetrics.rocAUCOneVsRest(probabilities: m, labels: y)
                }
            }
            let ap = try withMatrix(p, rows: n, columns: c) { m in
                try y.withUnsafeBufferPointer { y in
                    if let weights { return try weights.withUnsafeBufferPointer { try RankingMetrics.averagePrecisionOneVsRest(probabilities: m, labels: y, sampleWeights: $0) } }
                    return try RankingMetrics.averagePrecisionOneVsRest(probabilities: m, labels: y)
                }
            }
            var support = [Double](repeating: 0, count: c)
            for k in 0..<c {
                let column = (0..<n).map { p[$0 * c + k] }
                let binary = y.map { $0 == Int32(k) ? Int32(1) : 0 }
                #expect(close(auc.perClass[k], Reference.pairAUROC(column, binary, weights)))
                #expect(close(ap.perClass[k], Reference.averagePrecision(column, binary, weights)))
                support[k] = (0..<n).reduce(0.0) { $0 + (y[$1] == Int32(k) ? Double(weights?[$1] ?? 1) : 0) }
            }
            #expect(zip(auc.support, support).allSatisfy { close($0, $1) })
            #expect(close(auc.macro, auc.perClass.reduce(0, +) / Double(c)))
            let weighted = zip(auc.perClass, support).reduce(0.0) { $0 + $1.0 * $1.1 } / support.reduce(0, +)
            #expect(close(auc.weighted, weighted))
            // Micro: the pooled n·C binary problem.
            let pooledLabels = (0..<(n * c)).map { y[$0 / c] == Int32($0 % c) ? Int32(1) : 0 }
            let pooledWeights = weights.map { w in (0..<(n * c)).map { w[$0 / c] } }
            #expect(close(auc.micro, Reference.pairAUROC(p, pooledLabels, pooledWeights)))
            #expect(close(ap.micro, Reference.averagePrecision(p, pooledLabels, pooledWeights)))
        }
    }

    @Test func handAndTillByHand() throws {
        // Rows (y = 0): [.6 .3 .1], (y = 1): [.2 .5 .3], (y = 2): [.1 .6 .3].
        // Pair (0,1): col 0 ranks .6 over .2 → 1; col 1 ranks .5 over .3 → 1; pair 1.
        // Pair (0,2): col 0: .6 over .1 → 1; col 2: .3 over .1 → 1; pair 1.
        // Pair (1,2): col 1: y=1 has .5 < .6 → 0; col 2: y=2 has .3 = .3 → ½; pair ¼.
        // M = (1 + 1 + ¼)/3 = ¾; every pair holds 2 of 3 samples, so weighted = ¾ too.
        let p: [Float] = [0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.1, 0.6, 0.3]
        let y: [Int32] = [0, 1, 2]
        let (macro, weighted) = try withMatrix(p, rows: 3, columns: 3) { m in
            try y.withUnsafeBufferPointer { y in
                (try RankingMetrics.rocAUCOneVsOne(probabilities: m, labels: y),
                 try RankingMetrics.rocAUCOneVsOne(probabilities: m, labels: y, average: .weighted))
            }
        }
        #expect(close(macro, 0.75) && close(weighted, 0.75))
    }

    @Test func oneVsOneMatchesPairReference() throws {
        let (n, c) = (200, 3)
        let (p, y) = Self.problem(n, c, seed: 3)
        var expected = 0.0
        for a in 0..<c {
            for b in (a + 1)..<c {
                let rows = (0..<n).filter { y[$0] == Int32(a) || y[$0] == Int32(b) }
                let one = Reference.pairAUROC(rows.map { p[$0 * c + a] }, rows.map { y[$0] == Int32(a) ? 1 : 0 })
                let other = Reference.pairAUROC(rows.map { p[$0 * c + b] }, rows.map { y[$0] == Int32(b) ? 1 : 0 })
                expected += (one + other) / 2
            }
        }
        expected /= 3
        let value = try withMatrix(p, rows: n, columns: c) { m in try y.withUnsafeBufferPointer { try RankingMetrics.rocAUCOneVsOne(probabilities: m, labels: $0) } }
        #expect(close(value, expected))
    }

    @Test func multiclassBadInput() throws {
        // A class with no sample, a row that does not sum to 1, a negative entry.
        try withMatrix([0.5, 0.5, 0.5, 0.5], rows: 2, columns: 2) { m in
            try [Int32(0), 0].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.emptyReduction(argument: "labels", reason: "class 1 has no sample: its one-vs-rest metric is undefined")) {
                    try RankingMetrics.rocAUCOneVsRest(probabilities: m, labels: y)
                }
            }
        }
        try withMatrix([0.5, 0.6, 0.5, 0.5], rows: 2, columns: 2) { m in
            try [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.self) { try RankingMetrics.rocAUCOneVsOne(probabilities: m, labels: y) }
            }
        }
        try withMatrix([1.1, -0.1, 0.5, 0.5], rows: 2, columns: 2) { m in
            try [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.invalidParameter(argument: "probabilities[0, 0]", value: "1.1", requirement: "in [0, 1]")) {
                    try RankingMetrics.averagePrecisionOneVsRest(probabilities: m, labels: y)
                }
            }
        }
    }

    @Test func subgroupBreakdownMatchesPerGroupMetrics() throws {
        let (s, y, w) = RankedScoresTests.tiedSample(400, seed: 4)
        var g = TestGenerator(seed: 5)
        var groups = (0..<400).map { _ in Int32(g.below(3)) }
        groups[0] = 3  // group 3 holds one negative only: no metric
        let report = try with(s, y, w) { s1, y1, w1 throws in
            try groups.withUnsafeBufferPointer { try RankingMetrics.subgroupBreakdown(scores: s1, labels: y1, groups: $0, groupCount: 5, sampleWeights: w1) }
        }
        #expect(close(report.rocAUC, Reference.pairAUROC(s, y, w)))
        #expect(close(report.averagePrecision, Reference.averagePrecision(s, y, w)))
        for k in 0..<3 {
            let rows = (0..<400).filter { groups[$0] == Int32(k) }
            let (gs, gy, gw) = (rows.map { s[$0] }, rows.map { y[$0] }, rows.map { w[$0] })
            #expect(report.groups[k].count == rows.count)
            #expect(close(report.groups[k].rocAUC!, Reference.pairAUROC(gs, gy, gw)))
            #expect(close(report.groups[k].averagePrecision!, Reference.averagePrecision(gs, gy, gw)))
        }
        #expect(report.groups[3].count == 1 && report.groups[3].rocAUC == nil && report.groups[3].averagePrecision == nil)
        #expect(report.groups[4].count == 0 && report.groups[4].rocAUC == nil)
        try with(s, y) { s1, y1, _ throws in
            try groups.withUnsafeBufferPointer { gr in
                #expect(throws: FulcrumError.indexOutOfRange(argument: "groups", position: 0, value: 3, validRange: "0..<3")) {
                    try RankingMetrics.subgroupBreakdown(scores: s1, labels: y1, groups: gr, groupCount: 3)
                }
            }
        }
    }
}
