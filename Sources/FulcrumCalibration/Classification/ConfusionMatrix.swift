import FulcrumKernels

/// A C×C confusion matrix and the class-balanced scores read from it.
///
/// Entry (t, p) is the number (or total weight) of samples of true class t predicted as p
/// (rows: truth, columns: prediction, as scikit-learn's `confusion_matrix`). Counts are exact in
/// Double up to 2⁵³.
public struct ConfusionMatrix: Sendable, Equatable {
    /// The largest class count C: the matrix holds C² Doubles, 8 GiB at this bound.
    public static let maximumClassCount = 1 << 15

    /// Number of classes C.
    public let classCount: Int
    /// Row-major C×C counts.
    public private(set) var counts: [Double]

    /// Counts (`labels`, `predictions`) pairs, both in `0..<classCount`, optionally weighted.
    /// O(n + C²).
    ///
    /// - Throws: `invalidParameter` naming `classCount` outside 1 ... `maximumClassCount`;
    ///   `shapeMismatch` naming `predictions` or `sampleWeights`; `indexOutOfRange` naming
    ///   `labels` or `predictions`; the weight errors of `RankedScores.init`.
    public init(labels: UnsafeBufferPointer<Int32>, predictions: UnsafeBufferPointer<Int32>, classCount: Int,
                sampleWeights: UnsafeBufferPointer<Float>? = nil) throws {
        guard classCount >= 1, classCount <= Self.maximumClassCount else {
            throw FulcrumError.invalidParameter(argument: "classCount", value: "\(classCount)", requirement: "in 1...\(Self.maximumClassCount)")
        }
        try checkLength(predictions.count, labels.count, argument: "predictions")
        try checkLabels(labels, classCount: classCount)
        try checkLabels(predictions, classCount: classCount, argument: "predictions")
        try checkWeights(sampleWeights, count: labels.count)
        self.classCount = classCount
        counts = [Double](repeating: 0, count: classCount * classCount)
        for i in 0..<labels.count {
            counts[Int(labels[i]) * classCount + Int(predictions[i])] += Double(sampleWeights?[i] ?? 1)
        }
    }

    /// Counts the arg-max (first on ties) of each row of `probabilities` (any scores: they are not
    /// required to be probabilities, but NaN throws) against `labels`. O(n·C).
    ///
    /// - Throws: `nonFiniteValue` naming `scores` for a NaN; the errors of
    ///   `init(labels:predictions:classCount:sampleWeights:)`.
    public init(labels: UnsafeBufferPointer<Int32>, scores: MatrixView<Float>, sampleWeights: UnsafeBufferPointer<Float>? = nil) throws {
        try checkLength(labels.count, scores.rows, argument: "labels")
        var predictions = [Int32](repeating: 0, count: scores.rows)
        for i in 0..<scores.rows {
            var best = 0
            for k in 0..<scores.columns {
                let v = scores[i, k]
                guard !v.isNaN else { throw FulcrumError.nonFiniteValue(argument: "scores", row: i, column: k) }
                if v > scores[i, best] { best = k }
            }
            predictions[i] = Int32(best)
        }
        self = try predictions.withUnsafeBufferPointer {
            try ConfusionMatrix(labels: labels, predictions: $0, classCount: scores.columns, sampleWeights: sampleWeights)
        }
    }

    /// Entry (truth, prediction).
    public subscript(truth: Int, prediction: Int) -> Double { counts[truth * classCount + prediction] }

    /// Number (or weight) of samples of each true class (row sums).
    public var support: [Double] {
        (0..<classCount).map { t in (0..<classCount).reduce(0) { $0 + self[t, $1] } }
    }

    /// Recall of each class, (t, t)/support(t); `nil` for a class with no sample.
    public var recall: [Double?] {
        zip(0..<classCount, support).map { t, s in s > 0 ? self[t, t] / s : nil }
    }

    /// Fraction (by weight) of samples on the diagonal; `nil` when there is no sample (or every
    /// weight is 0), as for `balancedAccuracy`.
    public var accuracy: Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        return (0..<classCount).reduce(0) { $0 + self[$1, $1] } / total
    }

    /// Balanced accuracy (scikit-learn `balanced_accuracy_score`): the mean recall over the K
    /// classes that have samples. With `adjusted`, rescaled so that chance scores 0 and perfect 1:
    /// (score − 1/K)/(1 − 1/K) (for K = 1 the adjusted score is undefined: `nil`).
    ///
    /// Returns `nil` when no class has a sample.
    public func balancedAccuracy(adjusted: Bool = false) -> Double? {
        let recalls = recall.compactMap { $0 }
        guard !recalls.isEmpty else { return nil }
        let score = recalls.reduce(0, +) / Double(recalls.count)
        guard adjusted else { return score }
        guard recalls.count > 1 else { return nil }
        let chance = 1 / Double(recalls.count)
        return (score - chance) / (1 - chance)
    }
}
