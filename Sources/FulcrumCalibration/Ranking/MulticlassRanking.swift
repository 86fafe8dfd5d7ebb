import FulcrumKernels

/// A multi-class ranking metric: the one-vs-rest value of every class and its averages.
public struct MulticlassRankingScore: Sendable, Equatable {
    /// The binary metric of "class k against the rest", scored by column k, for every class.
    public var perClass: [Double]
    /// The number (or total weight) of samples of each class.
    public var support: [Double]
    /// The unweighted mean of `perClass` (scikit-learn `average="macro"`).
    public var macro: Double
    /// The mean of `perClass` weighted by `support` (`average="weighted"`).
    public var weighted: Double
    /// The binary metric of all n·C (score, one-hot label) pairs pooled (`average="micro"`).
    public var micro: Double
}

/// How `RankingMetrics.rocAUCOneVsOne` averages the class pairs.
public enum PairAverage: Sendable {
    /// The plain mean over pairs: Hand & Till's M measure.
    case macro
    /// Each pair weighted by the fraction of samples in its two classes (scikit-learn's
    /// `average="weighted"` for `multi_class="ovo"`).
    case weighted
}

extension RankingMetrics {
    /// One-vs-rest ROC AUC of a C-class problem (scikit-learn `roc_auc_score(multi_class="ovr")`):
    /// for each class k, the binary AUC of column k with label "y = k"; averaged by macro,
    /// support-weighted and micro (pooled) means. "A systematic study of the class imbalance
    /// problem in convolutional neural networks" reports exactly this multi-class ROC AUC.
    ///
    /// Shapes: `probabilities` n×C (C ≥ 2), `labels` n in `0..<C`, `sampleWeights` n.
    /// Cost: C + 1 radix-sorted binary problems, O(n·C).
    ///
    /// - Throws: `invalidParameter`/`nonFiniteValue` naming `probabilities` for entries outside
    ///   [0, 1] or rows whose sum is off 1 by more than `probabilityRowTolerance(classes:)` (as
    ///   scikit-learn, which requires probabilities here); `indexOutOfRange` naming `labels`;
    ///   `shapeMismatch`; `emptyReduction` naming `labels` when a class has no sample.
    public static func rocAUCOneVsRest(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> MulticlassRankingScore {
        try oneVsRest(probabilities, labels, sampleWeights) { try $0.rocAUC() }
    }

    /// One-vs-rest average precision (scikit-learn `average_precision_score` on binarised labels):
    /// per class, macro, support-weighted and micro. Same shapes, cost and errors as
    /// `rocAUCOneVsRest`.
    public static func averagePrecisionOneVsRest(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> MulticlassRankingScore {
        try oneVsRest(probabilities, labels, sampleWeights) { $0.averagePrecision() }
    }

    /// One-vs-one ROC AUC, Hand & Till's M measure ("A Simple Generalisation of the Area Under
    /// the ROC Curve for Multiple Class Classification Problems"), as scikit-learn
    /// `roc_auc_score(multi_class="ovo")`: for every pair a < b, restricted to the samples of
    /// classes a and b, the mean of AUC(column a, "y = a") and AUC(column b, "y = b"); then the
    /// mean over pairs (`.macro`) or the prevalence-weighted mean (`.weighted`). No sample
    /// weights (scikit-learn has none here either). Cost O(n·C) sorting work over all pairs.
    ///
    /// - Throws: the errors of `rocAUCOneVsRest`.
    public static func rocAUCOneVsOne(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, average: PairAverage = .macro
    ) throws -> Double {
        let c = try checkMulticlass(probabilities, labels, nil)
        var members = [[Int]](repeating: [], count: c)
        for (i, y) in labels.enumerated() { members[Int(y)].append(i) }
        var (sum, weightSum) = (0.0, 0.0)
        for a in 0..<c {
            for b in (a + 1)..<c {
                let rows = members[a] + members[b]
                let one = try pairAUC(probabilities, labels, rows, column: a)
                let other = try pairAUC(probabilities, labels, rows, column: b)
                let weight = average == .macro ? 1 : Double(rows.count) / Double(labels.count)
                sum += weight * (one + other) / 2
                weightSum += weight
            }
        }
        return sum / weightSum
    }

    private static func pairAUC(_ p: MatrixView<Float>, _ labels: UnsafeBufferPointer<Int32>, _ rows: [Int], column: Int) throws -> Double {
        let scores = rows.map { p[$0, column] }
        let binary = rows.map { labels[$0] == Int32(column) ? Int32(1) : 0 }
        return try scores.withUnsafeBufferPointer { s in
            try binary.withUnsafeBufferPointer { try RankedScores(scores: s, labels: $0).rocAUC() }
        }
    }

    /// Validates a multi-class problem and returns the class count.
    private static func checkMulticlass(_ p: MatrixView<Float>, _ labels: UnsafeBufferPointer<Int32>, _ weights: UnsafeBufferPointer<Float>?) throws -> Int {
        try checkLength(labels.count, p.rows, argument: "labels")
        guard p.columns >= 2 else {
            throw FulcrumError.shapeMismatch(argument: "probabilities", expected: "at least 2 columns", actual: p.shape)
        }
        try checkLabels(labels, classCount: p.columns)
        try checkWeights(weights, count: p.rows)
        try checkProbabilityRows(p)
        var present = [Bool](repeating: false, count: p.columns)
        for y in labels { present[Int(y)] = true }
        if let missing = present.firstIndex(of: false) {
            throw FulcrumError.emptyReduction(argument: "labels", reason: "class \(missing) has no sample: its one-vs-rest metric is undefined")
        }
        return p.columns
    }

    private static func oneVsRest(
        _ p: MatrixView<Float>, _ labels: UnsafeBufferPointer<Int32>, _ weights: UnsafeBufferPointer<Float>?,
        _ metric: (RankedScores) throws -> Double
    ) throws -> MulticlassRankingScore {
        let c = try checkMulticlass(p, labels, weights)
        let n = p.rows
        var perClass: [Double] = [], support: [Double] = []
        var column = [Float](repeating: 0, count: n)
        var binary = [Int32](repeating: 0, count: n)
        for k in 0..<c {
            for i in 0..<n {
                column[i] = p[i, k]
                binary[i] = labels[i] == Int32(k) ? 1 : 0
            }
            let ranked = try column.withUnsafeBufferPointer { s in
                try binary.withUnsafeBufferPointer { try RankedScores(scores: s, labels: $0, sampleWeights: weights) }
            }
            perClass.append(try metric(ranked))
            support.append(ranked.positiveTotal)
        }
        // Micro: every (sample, class) pair is one binary sample.
        var pooled = [Float](repeating: 0, count: n * c)
        var pooledLabels = [Int32](repeating: 0, count: n * c)
        var pooledWeights: [Float]? = weights.map { _ in [Float](repeating: 0, count: n * c) }
        for i in 0..<n {
            for k in 0..<c {
                pooled[i * c + k] = p[i, k]
                pooledLabels[i * c + k] = labels[i] == Int32(k) ? 1 : 0
                pooledWeights?[i * c + k] = weights![i]
            }
        }
        let micro = try pooled.withUnsafeBufferPointer { s in
            try pooledLabels.withUnsafeBufferPointer { y in
                if let pooledWeights {
                    return try pooledWeights.withUnsafeBufferPointer { try metric(RankedScores(scores: s, labels: y, sampleWeights: $0)) }
                }
                return try metric(RankedScores(scores: s, labels: y))
            }
        }
        let total = support.reduce(0, +)
        return MulticlassRankingScore(
            perClass: perClass, support: support,
            macro: perClass.reduce(0, +) / Double(c),
            weighted: zip(perClass, support).reduce(0) { $0 + $1.0 * $1.1 } / total,
            micro: micro)
    }
}
