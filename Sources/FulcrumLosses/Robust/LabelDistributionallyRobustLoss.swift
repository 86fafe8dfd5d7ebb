import FulcrumKernels

/// The LDR-KL loss of "Label Distributionally Robust Losses for Multi-class Classification:
/// Consistency, Robustness and Adaptivity" (Zhu, Ying, Yang): the worst case over label
/// distributions p of the margin-shifted score gaps, regularised by λ·KL(p ‖ uniform),
///
///     ℓ = max_p Σ_k p_k·(s_k + c·[k ≠ y] − s_y) − λ·KL(p ‖ 1/K)
///       = λ·log((1/K)·Σ_k exp((s_k + c·[k ≠ y] − s_y)/λ))
///     ∂ℓ/∂s_j = q_j − δ_jy,   q = softmax((s + c·[k ≠ y])/λ)
///     ∂ℓ/∂λ  = H(q) − log K = −KL(q ‖ 1/K) ≤ 0
///
/// with margin c ≥ 0 and temperature λ > 0. λ = 1, c = 0 is cross-entropy minus log K; λ → 0 is
/// the top-1 hinge (Crammer–Singer) loss max_k (s_k + c·[k ≠ y]) − s_y. Every instance may have
/// its own λ_i (`instanceTemperatures`), and `temperatureGradients` receives ∂ℓ_i/∂λ_i. The
/// adaptive ALDR-KL loss, whose λ_i follow the paper's update rule, is
/// `adaptiveLossAndGradient(logits:targets:gradient:instanceTemperatures:alpha:)`.
///
/// **Cost.** One read of the scores from memory (in 512-element chunks whose passes hit L1), one
/// write of the gradient, one exponential per element, O(N·C). Sums per chunk, combined in
/// Double. **Non-finite** scores throw `nonFiniteValue`.
/// **Determinism:** bitwise identical for any `Threads.count`. `.mean` divides by the counted rows.
public struct LabelDistributionallyRobustLoss<T: FulcrumFloat>: Sendable {
    /// λ > 0 (used for every row unless per-instance temperatures are given).
    public var lambda: T
    /// c ≥ 0: the margin added to every non-target class.
    public var margin: T
    /// Rows whose target equals this are ignored.
    public var ignoreIndex: Int32
    /// How per-row losses are combined (`.mean` divides by the counted rows).
    public var reduction: Reduction

    /// An LDR-KL loss; validated when called.
    public init(lambda: T = 1, margin: T = 0, ignoreIndex: Int32 = -100, reduction: Reduction = .mean) {
        self.lambda = lambda
        self.margin = margin
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    /// The loss and dL/dscores into `gradient` (N×C, may be the scores' memory).
    /// - Parameters:
    ///   - instanceTemperatures: optional N values λ_i > 0 replacing `lambda`.
    ///   - temperatureGradients: optional N outputs ∂L/∂λ_i (after the reduction; 0 for ignored rows).
    /// - Throws: `FulcrumError` naming `lambda`, `instanceTemperatures[i]` (finite, > 0),
    ///   `margin` (finite, ≥ 0), `targets`, `gradient`, `temperatureGradients`, or the first
    ///   non-finite `logits` element; `emptyReduction` for a mean over no rows; `lambda, margin`
    ///   when the loss overflows T (a tiny λ scales the scores by 1/λ).
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, gradient: MutableMatrixView<T>,
        instanceTemperatures: UnsafeBufferPointer<T>? = nil, temperatureGradients: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> T {
        try checkShape(MatrixView(gradient), rows: logits.rows, columns: logits.columns, argument: "gradient")
        return try evaluate(logits, targets, gradient, instanceTemperatures, temperatureGradients)
    }

    /// The loss without a gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func loss(logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>,
                     instanceTemperatures: UnsafeBufferPointer<T>? = nil) throws -> T {
        try evaluate(logits, targets, nil, instanceTemperatures, nil)
    }

    func evaluate(
        _ logits: MatrixView<T>, _ targets: UnsafeBufferPointer<Int32>, _ gradient: MutableMatrixView<T>?,
        _ temperatures: UnsafeBufferPointer<T>?, _ temperatureGradients: UnsafeMutableBufferPointer<T>?,
        adaptation: TemperatureAdaptation<T>? = nil
    ) throws -> T {
        let (rows, classes) = (logits.rows, logits.columns)
        guard lambda.isFinite, lambda > 0 else {
            throw FulcrumError.invalidParameter(argument: "lambda", value: "\(lambda)", requirement: "finite and > 0")
        }
        guard margin.isFinite, margin >= 0 else {
            throw FulcrumError.invalidParameter(argument: "margin", value: "\(margin)", requirement: "finite and >= 0")
        }
        try checkCount(targets.count, rows, argument: "targets")
        if let temperatures {
            try checkCount(temperatures.count, rows, argument: "instanceTemperatures")
            if let i = temperatures.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw FulcrumError.invalidParameter(argument: "instanceTemperatures[\(i)]", value: "\(temperatures[i])",
                                                    requirement: "finite and > 0")
            }
        }
        if let temperatureGradients { try checkCount(temperatureGradients.count, rows, argument: "temperatureGradients") }
        var counted = 0
        for (n, t) in targets.enumerated() where t != ignoreIndex {
            guard t >= 0, Int(t) < classes else {
                throw FulcrumError.indexOutOfRange(argument: "targets", position: n, value: Int(t), validRange: "0..<\(classes)")
            }
            counted += 1
        }
        if reduction == .mean && counted == 0 {
            throw FulcrumError.emptyReduction(argument: "targets", reason: "a mean over no rows (empty batch or every row ignored)")
        }
        let scale = reduction == .mean ? 1 / Double(counted) : 1
        let (ignore, margin, lambda) = (ignoreIndex, self.margin, Double(self.lambda))
        let sums = blockSums(rows: rows, classes: classes, scratchOf: T.self) { range, scratch in
            var total = LossSums()
            for n in range {
                guard targets[n] != ignore else {
                    gradient?.row(n).update(repeating: 0, count: classes)
                    temperatureGradients?[n] = 0
                    continue
                }
                var rowLambda = temperatures.map { Double($0[n]) } ?? lambda, penalty = 0.0
                if let adaptation {
                    // The current λ_i's distribution q_i gives KL(q_i ‖ 1/K) = −∂ℓ/∂λ.
                    let current = labelDistributionallyRobustRow(
                        scores: logits.row(n), target: Int(targets[n]), classes: classes, lambda: rowLambda, margin: margin,
                        needsTemperatureSlope: true, gradientScale: scale, gradient: nil, chunkRecords: scratch.chunkRecords)
                    guard current.isFinite else {
                        total.firstNonFinite = total.firstNonFinite ?? n
                        continue
                    }
                    let updated = T(adaptation.temperature(divergence: -current.temperatureSlope))
                    adaptation.temperatures[n] = updated
                    rowLambda = Double(updated)
                    penalty = adaptation.penalty(rowLambda)
                }
                let r = labelDistributionallyRobustRow(
                    scores: logits.row(n), target: Int(targets[n]), classes: classes, lambda: rowLambda, margin: margin,
                    needsTemperatureSlope: temperatureGradients != nil, gradientScale: scale, gradient: gradient?.row(n),
                    chunkRecords: scratch.chunkRecords, reusesMaxima: adaptation != nil)
                guard r.isFinite else {
                    total.firstNonFinite = total.firstNonFinite ?? n
                    continue
                }
                total.loss += r.loss - penalty
                temperatureGradients?[n] = T(r.temperatureSlope * scale)
            }
            return total
        }
        if let n = sums.firstNonFinite {
            let j = (0..<classes).first { !logits[n, $0].isFinite } ?? 0
            throw FulcrumError.nonFiniteValue(argument: "logits", row: n, column: j)
        }
        return try representableLoss(sums.loss * scale, as: T.self, parameters: "lambda, margin")
    }
}
