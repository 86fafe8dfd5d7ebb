/// Independent references for the ranking tests: the O(n²) pair-counting AUROC and the
/// definition of average precision evaluated threshold by threshold.
enum Reference {
    /// Σ over (positive, negative) pairs of wᵢwⱼ·([sᵢ > sⱼ] + ½[sᵢ = sⱼ]) / (W₊W₋).
    static func pairAUROC(_ s: [Float], _ y: [Int32], _ w: [Float]? = nil) -> Double {
        var (num, wp, wn) = (0.0, 0.0, 0.0)
        for i in s.indices {
            let wi = Double(w?[i] ?? 1)
            if y[i] == 1 { wp += wi } else { wn += wi }
            guard y[i] == 1 else { continue }
            for j in s.indices where y[j] == 0 {
                let wj = Double(w?[j] ?? 1)
                if s[i] > s[j] { num += wi * wj } else if s[i] == s[j] { num += 0.5 * wi * wj }
            }
        }
        return num / (wp * wn)
    }

    /// Σ over distinct thresholds t (descending) of (R(t) − R(t⁺))·P(t), each rate computed from
    /// scratch by scanning all samples.
    static func averagePrecision(_ s: [Float], _ y: [Int32], _ w: [Float]? = nil) -> Double {
        let thresholds = Set(s).sorted(by: >)
        let totalPositive = s.indices.reduce(0.0) { $0 + (y[$1] == 1 ? Double(w?[$1] ?? 1) : 0) }
        var (previousRecall, ap) = (0.0, 0.0)
        for t in thresholds {
            var (tp, fp) = (0.0, 0.0)
            for i in s.indices where s[i] >= t {
                if y[i] == 1 { tp += Double(w?[i] ?? 1) } else { fp += Double(w?[i] ?? 1) }
            }
            let recall = tp / totalPositive
            ap += (recall - previousRecall) * tp / (tp + fp)
            previousRecall = recall
        }
        return ap
    }

    /// ROC points (fpr, tpr) at every distinct threshold, descending, from scratch.
    static func rocPoints(_ s: [Float], _ y: [Int32]) -> [(Double, Double)] {
        let p = Double(y.filter { $0 == 1 }.count), n = Double(y.count) - p
        return [(0, 0)] + Set(s).sorted(by: >).map { t in
            let tp = Double(s.indices.filter { s[$0] >= t && y[$0] == 1 }.count)
            let fp = Double(s.indices.filter { s[$0] >= t && y[$0] == 0 }.count)
            return (fp / n, tp / p)
        }
    }

    /// scikit-learn's partial AUC: trapezoids over the ROC points up to the first point past
    /// maxFPR, the last one interpolated at maxFPR, then McClish's standardisation.
    static func partialAUROC(_ s: [Float], _ y: [Int32], maxFPR: Double) -> Double {
        let points = rocPoints(s, y)
        let stop = points.firstIndex { $0.0 > maxFPR }!
        var curve = Array(points[..<stop])
        let (a, b) = (points[stop - 1], points[stop])
        curve.append((maxFPR, a.1 + (b.1 - a.1) * (maxFPR - a.0) / (b.0 - a.0)))
        var area = 0.0
        for k in 1..<curve.count { area += (curve[k].0 - curve[k - 1].0) * (curve[k].1 + curve[k - 1].1) / 2 }
        let (minArea, maxArea) = (maxFPR * maxFPR / 2, maxFPR)
        return 0.5 * (1 + (area - minArea) / (maxArea - minArea))
    }
}
