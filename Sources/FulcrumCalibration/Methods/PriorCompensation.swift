import FulcrumKernels

/// Prior-compensating thresholding: a classifier trained on data with class priors π predicts
/// p(k|x) ∝ p(x|k)·π_k; dividing by the training priors (and multiplying by the target priors
/// τ, uniform by default) and renormalising gives the posterior under the target priors
/// ("Adjusting the Outputs of a Classifier to New a Priori Probabilities: A Simple Procedure",
/// Saerens et al.):
///
///     p'ᵢₖ = (pᵢₖ·τₖ/πₖ) / Σⱼ (pᵢⱼ·τⱼ/πⱼ)
///
/// With uniform τ, the arg-max of p' is the decision that maximises balanced accuracy when p is
/// calibrated — the usual remedy for a majority-class bias at test time.
public enum PriorCompensation {
    /// The class frequencies of `labels` (in `0..<classCount`): the training priors π.
    ///
    /// - Throws: `invalidParameter` naming `classCount` < 1; `indexOutOfRange` naming `labels`;
    ///   `emptyReduction` naming `labels` when empty.
    public static func classPriors(labels: UnsafeBufferPointer<Int32>, classCount: Int) throws -> [Double] {
        guard classCount >= 1 else {
            throw FulcrumError.invalidParameter(argument: "classCount", value: "\(classCount)", requirement: ">= 1")
        }
        guard !labels.isEmpty else { throw FulcrumError.emptyReduction(argument: "labels", reason: "no sample") }
        try checkLabels(labels, classCount: classCount)
        var counts = [Double](repeating: 0, count: classCount)
        for y in labels { counts[Int(y)] += 1 }
        return counts.map { $0 / Double(labels.count) }
    }

    /// Writes the compensated probabilities of `probabilities` (n×C) into `output` (n×C; may be
    /// the same memory) and returns each row's arg-max (first on ties). A row whose every
    /// adjusted entry is 0 (all its mass on classes with τ = 0) becomes uniform over the classes.
    /// Computed in Double per row, with the ratios τₖ/πₖ scaled by one power of two (which the
    /// normalisation cancels exactly), so that no prior, however small, overflows them. O(n·C).
    ///
    /// - Throws: `shapeMismatch` naming `priors`, `targetPriors` or `output`; `invalidParameter`
    ///   naming `priors[k]` unless finite and > 0, `targetPriors[k]` unless finite and ≥ 0; the
    ///   probability errors of `CalibrationMetrics.calibrationError(probabilities:…)`.
    @discardableResult
    public static func apply(
        probabilities: MatrixView<Float>, priors: [Double], targetPriors: [Double]? = nil, into output: MutableMatrixView<Float>
    ) throws -> [Int32] {
        let (n, c) = (probabilities.rows, probabilities.columns)
        try checkLength(priors.count, c, argument: "priors")
        guard output.rows == n, output.columns == c else {
            throw FulcrumError.shapeMismatch(argument: "output", expected: "\(n)x\(c)", actual: output.shape)
        }
        for (k, p) in priors.enumerated() where !(p.isFinite && p > 0) {
            throw FulcrumError.invalidParameter(argument: "priors[\(k)]", value: "\(p)", requirement: "finite and > 0")
        }
        if let targetPriors {
            try checkLength(targetPriors.count, c, argument: "targetPriors")
            for (k, t) in targetPriors.enumerated() where !(t.isFinite && t >= 0) {
                throw FulcrumError.invalidParameter(argument: "targetPriors[\(k)]", value: "\(t)", requirement: "finite and >= 0")
            }
        }
        try checkProbabilityRows(probabilities)
        let factors = scaledRatios(targetPriors ?? Array(repeating: 1, count: c), priors)
        var adjusted = [Double](repeating: 0, count: c)
        var decisions = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            var sum = 0.0
            for k in 0..<c {
                adjusted[k] = Double(probabilities[i, k]) * factors[k]
                sum += adjusted[k]
            }
            var best = 0
            for k in 0..<c {
                output[i, k] = Float(sum > 0 ? adjusted[k] / sum : 1 / Double(c))
                if adjusted[k] > adjusted[best] { best = k }
            }
            decisions[i] = Int32(best)
        }
        return decisions
    }

    /// τₖ/πₖ for every k (πₖ > 0, τₖ ≥ 0), all multiplied by the power of two that brings the
    /// largest into (½, 2): each is the quotient of the significands, in (½, 2), times 2 to the
    /// difference of the exponents, so a subnormal π or a huge τ never reaches ∞ (∞/∞ made a row
    /// NaN). The quotients are rounded as τₖ/πₖ itself, so ordinary priors give the plain ratios'
    /// bits up to that exact scale; a ratio below 2⁻¹⁰⁷⁴ of the largest becomes 0.
    static func scaledRatios(_ targets: [Double], _ priors: [Double]) -> [Double] {
        let ratios = zip(targets, priors).map { t, p in
            t > 0 ? (quotient: t.significand / p.significand, exponent: t.exponent - p.exponent) : (quotient: 0, exponent: 0)
        }
        let top = ratios.filter { $0.quotient > 0 }.map(\.exponent).max() ?? 0
        return ratios.map { Double(sign: .plus, exponent: $0.exponent - top, significand: $0.quotient) }
    }
}
