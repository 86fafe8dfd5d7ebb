import FulcrumKernels

extension RankedScores {
    /// Average precision, scikit-learn's non-interpolated step definition
    /// (`average_precision_score`):
    ///
    ///     AP = Σₖ (Rₖ − Rₖ₋₁)·Pₖ
    ///
    /// over the distinct scores k in descending order, with Pₖ and Rₖ the precision and recall of
    /// "score ≥ k". Only scores some positive has change the recall, so only those are visited.
    /// Counts are `Int64` (or Double weights); each term is formed in Double. O(n).
    public func averagePrecision() -> Double {
        var sum = PrecisionSteps(positives: positiveTotal, negatives: negativeTotal)
        forEachPositiveGroup(&sum)
        return sum.total / positiveTotal
    }

    /// The precision-recall curve laid out as scikit-learn's `precision_recall_curve`: thresholds
    /// are the distinct scores in ascending order; `precision[k]` and `recall[k]` belong to
    /// "score ≥ thresholds[k]", and one last point (precision 1, recall 0) closes the curve, so
    /// the two rate arrays are one longer than `thresholds`. O(n).
    public func precisionRecallCurve() -> PrecisionRecallCurve {
        var points = CurvePoints()
        forEachGroup(&points)
        let m = points.keys.count
        var precision = [Double](repeating: 1, count: m + 1)
        var recall = [Double](repeating: 0, count: m + 1)
        var (tp, fp) = (positiveTotal, negativeTotal)  // at or above the lowest score: everything
        for k in 0..<m {
            precision[k] = tp + fp > 0 ? tp / (tp + fp) : 0
            recall[k] = tp / positiveTotal
            tp -= points.positives[k]
            fp -= points.negatives[k]
        }
        return PrecisionRecallCurve(precision: precision, recall: recall, thresholds: points.keys.map(RadixSort.value(ofKey:)))
    }
}

/// A precision-recall curve: `precision` and `recall` have one more element than `thresholds`
/// (the closing point with precision 1 and recall 0).
public struct PrecisionRecallCurve: Sendable, Equatable {
    /// Precision of "score ≥ threshold" at each threshold, then 1.
    public var precision: [Double]
    /// Recall of "score ≥ threshold" at each threshold (non-increasing), then 0.
    public var recall: [Double]
    /// The distinct scores, ascending.
    public var thresholds: [Float]
}

/// Σ over distinct positive scores of (new positives)·precision at that score.
struct PrecisionSteps: ThresholdGroupVisitor {
    let positives: Double
    let negatives: Double
    var total = 0.0

    @inline(__always)
    mutating func visit<C: RankCount>(_ g: ThresholdGroup<C>) {
        guard g.positives != 0 else { return }
        let tp = positives - g.positivesBelow.doubleValue
        let fp = negatives - g.negativesBelow.doubleValue
        total += g.positives.doubleValue * (tp / (tp + fp))
    }
}
