import FulcrumKernels

/// Ranking metrics of binary scores, one call each: scikit-learn's `roc_auc_score`,
/// `roc_curve`, `average_precision_score` and `precision_recall_curve`, exact and in
/// one radix-sort pass (see `RankedScores`, which computes several of them from one sort).
///
/// "A Closer Look at AUROC and AUPRC under Class Imbalance" compares models by exactly these two
/// areas; `RankingMetrics.subgroupBreakdown` gives them per subpopulation as its analysis needs.
///
/// Labels are 1 (positive) or 0 (negative); a higher score means "more positive". Scores are
/// `Float`; NaN is rejected, ±∞ are ordinary extreme scores. Sample weights are optional,
/// finite and ≥ 0.
public enum RankingMetrics {
    /// Area under the ROC curve (ties count ½), optionally the McClish-standardised partial
    /// area up to `maxFPR`. See `RankedScores.rocAUC(maxFPR:)`. O(n) time, 4·n bytes (8·n with
    /// weights) of scratch.
    ///
    /// - Throws: the errors of `RankedScores.init` and of `RankedScores.rocAUC(maxFPR:)`.
    public static func rocAUC(
        scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
        sampleWeights: UnsafeBufferPointer<Float>? = nil, maxFPR: Double? = nil
    ) throws -> Double {
        if let maxFPR, !(maxFPR > 0 && maxFPR <= 1) {
            throw FulcrumError.invalidParameter(argument: "maxFPR", value: "\(maxFPR)", requirement: "in (0, 1]")
        }
        return try RankedScores(scores: scores, labels: labels, sampleWeights: sampleWeights).rocAUC(maxFPR: maxFPR)
    }

    /// Average precision (scikit-learn's step definition). See `RankedScores.averagePrecision()`.
    ///
    /// - Throws: the errors of `RankedScores.init`.
    public static func averagePrecision(
        scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
        sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> Double {
        try RankedScores(scores: scores, labels: labels, sampleWeights: sampleWeights).averagePrecision()
    }

    /// The ROC curve. See `RankedScores.rocCurve(dropIntermediate:)`.
    public static func rocCurve(
        scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
        sampleWeights: UnsafeBufferPointer<Float>? = nil, dropIntermediate: Bool = true
    ) throws -> ROCCurve {
        try RankedScores(scores: scores, labels: labels, sampleWeights: sampleWeights).rocCurve(dropIntermediate: dropIntermediate)
    }

    /// The precision-recall curve. See `RankedScores.precisionRecallCurve()`.
    public static func precisionRecallCurve(
        scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
        sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> PrecisionRecallCurve {
        try RankedScores(scores: scores, labels: labels, sampleWeights: sampleWeights).precisionRecallCurve()
    }
}
