import FulcrumKernels

extension RankedScores {
    /// Area under the ROC curve, exact, with tied scores counted as half:
    ///
    ///     AUC = (Σ_{i∈pos, j∈neg} wᵢwⱼ·([sᵢ > sⱼ] + ½[sᵢ = sⱼ])) / (W₊·W₋)
    ///
    /// (wᵢ = 1 without weights), which equals the trapezoidal area under scikit-learn's
    /// `roc_curve` (`roc_auc_score`). Without weights the numerator is summed in `Int64` (exact
    /// for n < 3·10⁹) and divided once in Double.
    ///
    /// With `maxFPR` in (0, 1) it is the partial area over FPR ∈ [0, maxFPR], standardised as in
    /// "Analyzing a Portion of the ROC Curve" (McClish), as `roc_auc_score(max_fpr=…)` does:
    /// `½·(1 + (A − A_min)/(A_max − A_min))` with `A_min = ½·maxFPR²` (the chance diagonal) and
    /// `A_max = maxFPR`; the curve is linearly interpolated at `maxFPR`. O(number of distinct
    /// positive scores + n).
    ///
    /// - Throws: `FulcrumError.invalidParameter` naming `maxFPR` unless it lies in (0, 1].
    public func rocAUC(maxFPR: Double? = nil) throws -> Double {
        if let maxFPR {
            guard maxFPR > 0, maxFPR <= 1 else {
                throw FulcrumError.invalidParameter(argument: "maxFPR", value: "\(maxFPR)", requirement: "in (0, 1]")
            }
            if maxFPR < 1 {
                var area = PartialROCArea(maxFPR: maxFPR, positives: positiveTotal, negatives: negativeTotal)
                forEachPositiveGroup(&area)
                let (minArea, maxArea) = (0.5 * maxFPR * maxFPR, maxFPR)
                return 0.5 * (1 + (area.area - minArea) / (maxArea - minArea))
            }
        }
        var pairs = ConcordantPairs()
        forEachPositiveGroup(&pairs)
        return pairs.value / (2 * positiveTotal * negativeTotal)
    }

    /// The ROC curve, laid out as scikit-learn's `roc_curve`: one point per distinct score in
    /// descending order, preceded by the point (0, 0) at threshold +∞. With `dropIntermediate`
    /// (scikit-learn's default) a point is dropped when both its false- and true-positive counts
    /// have zero second difference (it lies mid-way on a straight run), which leaves the area
    /// unchanged. O(n).
    public func rocCurve(dropIntermediate: Bool = true) -> ROCCurve {
        var points = CurvePoints()
        forEachGroup(&points)
        // Descending thresholds with cumulative counts above or at each threshold.
        let m = points.keys.count
        var fps = [Double](repeating: 0, count: m), tps = fps
        var thresholds = [Float](repeating: 0, count: m)
        var (fp, tp) = (0.0, 0.0)
        for r in 0..<m {
            let g = m - 1 - r
            fp += points.negatives[g]
            tp += points.positives[g]
            (fps[r], tps[r], thresholds[r]) = (fp, tp, RadixSort.value(ofKey: points.keys[g]))
        }
        var keep = Array(0..<m)
        if dropIntermediate && m > 2 {
            keep = [0]
            for r in 1..<(m - 1) where fps[r - 1] - 2 * fps[r] + fps[r + 1] != 0 || tps[r - 1] - 2 * tps[r] + tps[r + 1] != 0 {
                keep.append(r)
            }
            keep.append(m - 1)
        }
        return ROCCurve(
            falsePositiveRate: [0] + keep.map { fps[$0] / fp },
            truePositiveRate: [0] + keep.map { tps[$0] / tp },
            thresholds: [.infinity] + keep.map { thresholds[$0] })
    }
}

/// A receiver operating characteristic curve: points (FPR, TPR) at decreasing thresholds, the
/// first at +∞ with (0, 0), the last at the lowest score with (1, 1).
public struct ROCCurve: Sendable, Equatable {
    /// False-positive rate at each threshold (non-decreasing).
    public var falsePositiveRate: [Double]
    /// True-positive rate (recall) at each threshold (non-decreasing).
    public var truePositiveRate: [Double]
    /// A sample is predicted positive when its score is ≥ the threshold.
    public var thresholds: [Float]
}

/// 2 × the weighted count of concordant pairs plus tied pairs: Σ w₊·(2·W₋below + W₋equal).
struct ConcordantPairs: ThresholdGroupVisitor {
    var exact: Int64 = 0
    var weighted = 0.0

    var value: Double { Double(exact) + weighted }

    @inline(__always)
    mutating func visit<C: RankCount>(_ g: ThresholdGroup<C>) {
        let term = g.positives * (g.negativesBelow + g.negativesBelow + g.negatives)
        if let t = term as? Int64 { exact &+= t } else { weighted += term.doubleValue }
    }
}

/// ∫₀^{maxFPR} TPR d(FPR) of the ROC curve with linear interpolation between its points.
///
/// Visiting groups in ascending score order, a group's own samples make the segment
/// (FPR, TPR)_before → (FPR, TPR)_at, and the negatives between it and the next lower visited
/// group make a horizontal segment at height TPR_at. Each segment is clipped to FPR ≤ maxFPR on
/// its own, so the order of the sum does not matter.
struct PartialROCArea: ThresholdGroupVisitor {
    let maxFPR: Double
    let positives: Double
    let negatives: Double
    var area = 0.0
    /// FPR just before the previously visited (lower) group was included; starts at 1.
    var previousFPRBefore = 1.0

    init(maxFPR: Double, positives: Double, negatives: Double) {
        (self.maxFPR, self.positives, self.negatives) = (maxFPR, positives, negatives)
    }

    mutating func visit<C: RankCount>(_ g: ThresholdGroup<C>) {
        let fprAt = (negatives - g.negativesBelow.doubleValue) / negatives
        let tprAt = (positives - g.positivesBelow.doubleValue) / positives
        let fprBefore = (negatives - g.negativesBelow.doubleValue - g.negatives.doubleValue) / negatives
        let tprBefore = (positives - g.positivesBelow.doubleValue - g.positives.doubleValue) / positives
        area += clippedTrapezoid(fprAt, tprAt, previousFPRBefore, tprAt)
        area += clippedTrapezoid(fprBefore, tprBefore, fprAt, tprAt)
        previousFPRBefore = fprBefore
    }

    /// Area under the segment (x0, y0)–(x1, y1), x0 ≤ x1, over x ≤ maxFPR.
    func clippedTrapezoid(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) -> Double {
        guard x0 < maxFPR, x1 > x0 else { return 0 }
        let xEnd = min(x1, maxFPR)
        let yEnd = y0 + (y1 - y0) * (xEnd - x0) / (x1 - x0)
        return (xEnd - x0) * (y0 + yEnd) / 2
    }
}

/// Every distinct score with its positive and negative count (or weight), ascending.
struct CurvePoints: ThresholdGroupVisitor {
    var keys: [UInt32] = []
    var positives: [Double] = []
    var negatives: [Double] = []

    mutating func visit<C: RankCount>(_ g: ThresholdGroup<C>) {
        keys.append(g.key)
        positives.append(g.positives.doubleValue)
        negatives.append(g.negatives.doubleValue)
    }
}
