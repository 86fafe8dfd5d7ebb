import FulcrumKernels

/// Calibration metrics: Brier score, expected/maximum/root-mean-square calibration error with
/// their reliability diagrams, and the Balance score.
///
/// Probabilities must be finite and in [0, 1]; rows of a probability matrix must sum to 1 within
/// `probabilityRowTolerance(classes:)`. Anything else throws (a NaN or a logit passed by mistake
/// never produces a silent number). All sums run in Double.
public enum CalibrationMetrics {
    /// The most bins a reliability diagram may have (2¹⁶): every bin is reported, and the
    /// parallel pass keeps per-block bin sums.
    public static let maximumBins = 1 << 16

    /// Top-label calibration error of a C-class probability matrix ("On Calibration of Modern
    /// Neural Networks"): the confidence of row i is maxₖ pᵢₖ and it is a hit when the arg-max
    /// (the first on ties) is the label. Returns the reliability diagram with `bins` bins and
    /// ECE, MCE and RMSCE (see `CalibrationReport`).
    ///
    /// Shapes: `probabilities` n×C, `labels` n in `0..<C`, `sampleWeights` n. Equal-width bins
    /// run as one parallel pass over the matrix (validation fused in; per-block bin sums combined
    /// in block order, so the result does not depend on the thread count); equal-mass bins add a
    /// radix sort of the n confidences. O(n·C).
    ///
    /// - Throws: `invalidParameter` naming `bins` outside 1 ... `maximumBins`; `emptyReduction` naming
    ///   `probabilities` for n = 0 or `sampleWeights` when they sum to 0; the probability,
    ///   label and weight errors of `rocAUCOneVsRest`.
    public static func calibrationError(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, bins: Int = 15,
        binning: Binning = .equalWidth, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> CalibrationReport {
        try checkCalibrationInput(rows: probabilities.rows, labels, bins: bins, sampleWeights)
        try checkLabels(labels, classCount: probabilities.columns)
        if binning == .equalMass {
            var samples = ConfidenceSamples(weights: sampleWeights.map(Array.init))
            try forEachRowSummary(probabilities) { i, row in
                samples.confidences.append(row.maximum)
                samples.hits.append(row.argmax == Int(labels[i]))
            }
            return try samples.report(bins: bins, binning: .equalMass)
        }
        return try topLabelEqualWidth(probabilities, labels, bins: bins, weights: sampleWeights).equalWidthReport()
    }

    /// Class-wise calibration error ("Beyond temperature scaling: Obtaining well-calibrated
    /// multi-class probabilities with Dirichlet calibration"): for each class k, the reliability
    /// report of the confidences pᵢₖ with hits yᵢ = k; `mean` holds the mean over classes of
    /// ECE, MCE and RMSCE (class-wise ECE). O(n·C) (equal-mass: C radix sorts of n).
    ///
    /// - Throws: the errors of `calibrationError(probabilities:…)`.
    public static func classwiseCalibrationError(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, bins: Int = 15,
        binning: Binning = .equalWidth, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> ClasswiseCalibrationReport {
        try checkCalibrationInput(rows: probabilities.rows, labels, bins: bins, sampleWeights)
        try checkLabels(labels, classCount: probabilities.columns)
        try checkProbabilityRows(probabilities)
        let weights = sampleWeights.map(Array.init)
        var perClass: [CalibrationReport] = []
        for k in 0..<probabilities.columns {
            let samples = ConfidenceSamples(confidences: (0..<probabilities.rows).map { probabilities[$0, k] },
                                            hits: labels.map { Int($0) == k }, weights: weights)
            perClass.append(try samples.report(bins: bins, binning: binning))
        }
        return ClasswiseCalibrationReport(perClass: perClass)
    }

    /// Calibration of binary probabilities of the positive class (scikit-learn's
    /// `calibration_curve` bins with ECE/MCE/RMSCE): confidence pᵢ, hit yᵢ = 1. O(n)
    /// (equal-mass: plus a radix sort).
    ///
    /// - Throws: `invalidParameter`/`nonFiniteValue` naming `probabilities` outside [0, 1];
    ///   `indexOutOfRange` naming `labels` for labels other than 0/1; the errors of the matrix form.
    public static func calibrationError(
        probabilities: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, bins: Int = 15,
        binning: Binning = .equalWidth, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> CalibrationReport {
        try checkCalibrationInput(rows: probabilities.count, labels, bins: bins, sampleWeights)
        try checkLabels(labels, classCount: 2)
        try checkUnitInterval(probabilities)
        let samples = ConfidenceSamples(confidences: Array(probabilities), hits: labels.map { $0 == 1 },
                                        weights: sampleWeights.map(Array.init))
        return try samples.report(bins: bins, binning: binning)
    }

    /// Brier score of binary probabilities: (1/W)·Σᵢ wᵢ·(pᵢ − yᵢ)² (scikit-learn
    /// `brier_score_loss`). O(n).
    ///
    /// - Throws: the probability, label, length and weight errors of `calibrationError`.
    public static func brierScore(
        probabilities: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> Double {
        try checkCalibrationInput(rows: probabilities.count, labels, bins: 1, sampleWeights)
        try checkLabels(labels, classCount: 2)
        try checkUnitInterval(probabilities)
        var (sum, total) = (0.0, 0.0)
        for i in 0..<probabilities.count {
            let w = Double(sampleWeights?[i] ?? 1)
            let d = Double(probabilities[i]) - Double(labels[i])
            sum += w * d * d
            total += w
        }
        return sum / total
    }

    /// Multi-class Brier score: (1/W)·Σᵢ wᵢ·Σₖ (pᵢₖ − [yᵢ = k])² (Brier's original definition;
    /// ranges over [0, 2]). O(n·C).
    ///
    /// - Throws: the errors of `calibrationError(probabilities:…)`.
    public static func brierScore(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> Double {
        try checkCalibrationInput(rows: probabilities.rows, labels, bins: 1, sampleWeights)
        try checkLabels(labels, classCount: probabilities.columns)
        try checkProbabilityRows(probabilities)
        var (sum, total) = (0.0, 0.0)
        for i in 0..<probabilities.rows {
            let w = Double(sampleWeights?[i] ?? 1)
            var row = 0.0
            for k in 0..<probabilities.columns {
                let d = Double(probabilities[i, k]) - (k == Int(labels[i]) ? 1 : 0)
                row += d * d
            }
            sum += w * row
            total += w
        }
        return sum / total
    }

    /// The Balance score of "Rethinking Evaluation Metric for Probability Estimation Models Using
    /// Esports Data": with the decision ŷ = [p̂ ≥ ½] and its confidence q = max(p̂, 1 − p̂), each
    /// sample gains 1 − q when the decision is right and loses q when it is wrong; the score is
    /// the (weighted) mean:
    ///
    ///     Balance = (1/W)·Σᵢ wᵢ·([ŷᵢ = yᵢ] − qᵢ)
    ///
    /// i.e. accuracy minus mean confidence: 0 for a calibrated model, negative when it is
    /// over-confident, positive when under-confident, in [−1, ½]. No bins. O(n).
    ///
    /// - Throws: the errors of `brierScore(probabilities:labels:sampleWeights:)`.
    public static func balanceScore(
        probabilities: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> Double {
        try checkCalibrationInput(rows: probabilities.count, labels, bins: 1, sampleWeights)
        try checkLabels(labels, classCount: 2)
        try checkUnitInterval(probabilities)
        var (sum, total) = (0.0, 0.0)
        for i in 0..<probabilities.count {
            let p = Double(probabilities[i])
            let decision: Int32 = p >= 0.5 ? 1 : 0
            let w = Double(sampleWeights?[i] ?? 1)
            sum += w * ((decision == labels[i] ? 1 : 0) - max(p, 1 - p))
            total += w
        }
        return sum / total
    }

    /// The top-label form of the Balance score for C classes: (1/W)·Σᵢ wᵢ·([argmaxₖ pᵢₖ = yᵢ] −
    /// maxₖ pᵢₖ) (accuracy minus mean top-label confidence). For C = 2 it equals the binary form
    /// except on rows with p = ½ exactly, where the arg-max takes class 0 and the paper's
    /// decision takes class 1. O(n·C).
    ///
    /// - Throws: the errors of `calibrationError(probabilities:…)`.
    public static func balanceScore(
        probabilities: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> Double {
        try checkCalibrationInput(rows: probabilities.rows, labels, bins: 1, sampleWeights)
        try checkLabels(labels, classCount: probabilities.columns)
        var (sum, total) = (0.0, 0.0)
        try forEachRowSummary(probabilities) { i, row in
            let w = Double(sampleWeights?[i] ?? 1)
            sum += w * ((row.argmax == Int(labels[i]) ? 1 : 0) - Double(row.maximum))
            total += w
        }
        return sum / total
    }

    // MARK: Shared

    private static func checkCalibrationInput(
        rows: Int, _ labels: UnsafeBufferPointer<Int32>, bins: Int, _ weights: UnsafeBufferPointer<Float>?
    ) throws {
        guard bins >= 1 else { throw FulcrumError.invalidParameter(argument: "bins", value: "\(bins)", requirement: ">= 1") }
        guard bins <= maximumBins else {
            throw FulcrumError.invalidParameter(argument: "bins", value: "\(bins)", requirement: "<= \(maximumBins) (each bin is reported)")
        }
        try checkLength(labels.count, rows, argument: "labels")
        guard rows > 0 else { throw FulcrumError.emptyReduction(argument: "probabilities", reason: "no sample") }
        try checkWeights(weights, count: rows)
        if let weights, weights.allSatisfy({ $0 == 0 }) {
            throw FulcrumError.emptyReduction(argument: "sampleWeights", reason: "every weight is 0")
        }
    }

    /// Validates each row (finite, in [0, 1], sums to 1 within tolerance) and calls `body` with
    /// its summary, in row order.
    private static func forEachRowSummary(_ p: MatrixView<Float>, _ body: (Int, RowSummary) -> Void) throws {
        let tolerance = probabilityRowTolerance(classes: p.columns)
        for i in 0..<p.rows {
            let row = RowSummary(p.row(i), count: p.columns)
            guard row.sum.isFinite, row.minimum >= 0, row.maximum <= 1, abs(Double(row.sum) - 1) <= tolerance else {
                try checkProbabilityRows(p.rows(i..<(i + 1)), rowOffset: i)
                // The single-row check may differ only in the summation order; report the row.
                throw FulcrumError.invalidParameter(argument: "probabilities row \(i)", value: "sum \(row.sum)", requirement: "sum to 1 within \(tolerance)")
            }
            body(i, row)
        }
    }

    /// Equal-width top-label bin sums in one parallel pass over the rows: each block of rows
    /// accumulates its own (count, confidence, hits) per bin; blocks are combined in order.
    private static func topLabelEqualWidth(
        _ p: MatrixView<Float>, _ labels: UnsafeBufferPointer<Int32>, bins: Int, weights: UnsafeBufferPointer<Float>?
    ) throws -> BinSums {
        // About 2¹⁸ elements per block, and at most 2²¹ per-block bins in all (48 MiB of sums).
        let rowsPerBlock = max(1, (1 << 18) / max(1, p.columns), (p.rows * bins + (1 << 21) - 1) >> 21)
        let blocks = (p.rows + rowsPerBlock - 1) / rowsPerBlock
        var partial = [Double](repeating: 0, count: blocks * 3 * bins)
        var firstBad = [Int](repeating: Int.max, count: blocks)
        let tolerance = probabilityRowTolerance(classes: p.columns)
        partial.withUnsafeMutableBufferPointer { partial in
            firstBad.withUnsafeMutableBufferPointer { bad in
                Threads.forEachBlock(count: p.rows, blockSize: rowsPerBlock) { block, range in
                    let (count, confidence, hits) = (partial.baseAddress! + block * 3 * bins,
                                                     partial.baseAddress! + (block * 3 + 1) * bins,
                                                     partial.baseAddress! + (block * 3 + 2) * bins)
                    for i in range {
                        let row = RowSummary(p.row(i), count: p.columns)
                        guard row.sum.isFinite, row.minimum >= 0, row.maximum <= 1, abs(Double(row.sum) - 1) <= tolerance else {
                            bad[block] = i
                            return
                        }
                        let (c, w) = (Double(row.maximum), Double(weights?[i] ?? 1))
                        let b = BinSums.equalWidthBin(c, bins: bins)
                        count[b] += w
                        confidence[b] += w * c
                        if row.argmax == Int(labels[i]) { hits[b] += w }
                    }
                }
            }
        }
        if let i = firstBad.min(), i != Int.max {
            try checkProbabilityRows(p.rows(i..<(i + 1)), rowOffset: i)
            throw FulcrumError.invalidParameter(argument: "probabilities row \(i)", value: "out of range", requirement: "probabilities summing to 1")
        }
        var total = BinSums(bins: bins)
        for block in 0..<blocks {
            for b in 0..<bins {
                total.count[b] += partial[block * 3 * bins + b]
                total.confidence[b] += partial[(block * 3 + 1) * bins + b]
                total.hits[b] += partial[(block * 3 + 2) * bins + b]
            }
        }
        return total
    }
}

/// Class-wise calibration: one report per class and their means.
public struct ClasswiseCalibrationReport: Sendable, Equatable {
    /// The reliability report of each class's probability column.
    public var perClass: [CalibrationReport]
    /// Mean over classes of the ECE: the class-wise ECE.
    public var expectedCalibrationError: Double
    /// Mean over classes of the MCE.
    public var maximumCalibrationError: Double
    /// Mean over classes of the RMSCE.
    public var rootMeanSquareCalibrationError: Double

    init(perClass: [CalibrationReport]) {
        self.perClass = perClass
        let c = Double(perClass.count)
        expectedCalibrationError = perClass.reduce(0) { $0 + $1.expectedCalibrationError } / c
        maximumCalibrationError = perClass.reduce(0) { $0 + $1.maximumCalibrationError } / c
        rootMeanSquareCalibrationError = perClass.reduce(0) { $0 + $1.rootMeanSquareCalibrationError } / c
    }
}
