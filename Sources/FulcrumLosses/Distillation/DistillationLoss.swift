import FulcrumKernels

/// Knowledge-distillation losses between temperature-softened teacher and student softmaxes,
/// fused: one pass over both rows gives the forward KL, the reverse KL, both entropies and the
/// gradient with respect to the student logits.
///
/// For a row with student logits s and teacher logits t (C classes), p_s = softmax(s/T_s),
/// p_t = softmax(t/T_t) (T_t = T_s unless `teacherTemperature` is set, as in "Mitigating the
/// Accuracy-Robustness Trade-off via Multi-Teacher Adversarial Distillation", whose teachers get
/// their own temperatures, see `EntropyTemperature`):
///
///     KL_f = KL(p_t‖p_s) = Σ_j p_t,j·(log p_t,j − log p_s,j)
///     KL_r = KL(p_s‖p_t) = Σ_j p_s,j·(log p_s,j − log p_t,j)
///     ℓ    = κ·(w_f·KL_f + w_r·KL_r),   κ = T_s² with `scalesByTemperatureSquared`, else 1
///     ∂ℓ/∂s_j = (κ/T_s)·[w_f·(p_s,j − p_t,j) + w_r·p_s,j·(log p_s,j − log p_t,j − KL_r)]
///
/// with (w_f, w_r) from `balance` (forward only, reverse only, fixed weights, or the BD-KD
/// entropy-gap rule). T² keeps the gradient's size independent of T ("Distilling the Knowledge
/// in a Neural Network"). `.mean` divides by the row count (PyTorch's `kl_div(…, "batchmean")`).
///
/// **Cost.** Both rows are read once from memory (in 512-element chunks, each chunk's passes
/// hitting L1) and the gradient written once; two exponentials per element, no logarithm per
/// element (the KLs and entropies come from four or six sums per chunk, combined in Double).
/// O(N·C) time, one scratch row per running thread. **Accuracy:** KL(p‖p) is exactly 0 with an
/// exactly zero gradient (identical rows give identical sums); the Float loss is within 1e-5
/// relative of a Double reference in the tests. **Non-finite logits** throw `nonFiniteValue`
/// naming `studentLogits` or `teacherLogits`. **Determinism:** fixed row blocks, sums combined in
/// block order: bitwise identical for any `Threads.count`.
///
/// ```swift
/// let kd = DistillationLoss<Float>(temperature: 4, balance: .entropyGap(amplification: 2))
/// let result = try kd.lossAndGradient(studentLogits: s, teacherLogits: t, studentGradient: g)
/// ```
public struct DistillationLoss<T: FulcrumFloat>: Sendable {
    /// T_s > 0, the student's temperature (and the teacher's unless `teacherTemperature` is set).
    public var temperature: T
    /// T_t > 0 for the teacher, nil for `temperature`.
    public var teacherTemperature: T?
    /// Multiply the loss (and gradient) by T_s² (the usual convention; PyTorch users do it by hand).
    public var scalesByTemperatureSquared: Bool
    /// How the two divergences are weighed.
    public var balance: DivergenceBalance
    /// How per-row losses are combined (`.mean` divides by N).
    public var reduction: Reduction

    /// A distillation loss (forward KL at T = 1 with T² scaling by default); validated when called.
    public init(temperature: T = 1, teacherTemperature: T? = nil, scalesByTemperatureSquared: Bool = true,
                balance: DivergenceBalance = .forward, reduction: Reduction = .mean) {
        self.temperature = temperature
        self.teacherTemperature = teacherTemperature
        self.scalesByTemperatureSquared = scalesByTemperatureSquared
        self.balance = balance
        self.reduction = reduction
    }

    /// The loss and dL/d(student logits).
    ///
    /// - Parameters:
    ///   - studentLogits, teacherLogits: N×C each (any row strides).
    ///   - studentGradient: N×C output, every element written. It may be `studentLogits`' own
    ///     memory (the same base and row stride: the gradient is written over the student logits,
    ///     with no second buffer); it may not otherwise share memory with the logits.
    ///   - gradientScale: the upstream gradient.
    ///   - rowLosses: optional N outputs, each row's ℓ before the reduction.
    /// - Throws: `FulcrumError` naming `temperature`, `teacherTemperature`, `balance`,
    ///   `gradientScale`, `teacherLogits`/`studentGradient`/`rowLosses` (shape), `studentLogits`
    ///   (no column, or an empty mean), or the logits holding a non-finite value; the
    ///   temperatures when the loss or a KL overflows T.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        studentLogits: MatrixView<T>, teacherLogits: MatrixView<T>, studentGradient: MutableMatrixView<T>,
        gradientScale: T = 1, rowLosses: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> DistillationResult<T> {
        try checkShape(MatrixView(studentGradient), rows: studentLogits.rows, columns: studentLogits.columns,
                       argument: "studentGradient")
        if studentGradient.startsAt(studentLogits), studentGradient.rowStride != studentLogits.rowStride {
            throw FulcrumError.invalidParameter(argument: "studentGradient", value: "the student logits' memory with another row stride",
                                                requirement: "its own buffer, or the student logits' memory with their row stride")
        }
        return try evaluate(studentLogits, teacherLogits, studentGradient, gradientScale, rowLosses)
    }

    /// The loss without a gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func loss(
        studentLogits: MatrixView<T>, teacherLogits: MatrixView<T>, rowLosses: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> DistillationResult<T> {
        try evaluate(studentLogits, teacherLogits, nil, 1, rowLosses)
    }

    func evaluate(
        _ student: MatrixView<T>, _ teacher: MatrixView<T>, _ gradient: MutableMatrixView<T>?,
        _ gradientScale: T, _ rowLosses: UnsafeMutableBufferPointer<T>?
    ) throws -> DistillationResult<T> {
        let (rows, classes) = (student.rows, student.columns)
        for (name, value) in [("temperature", temperature), ("teacherTemperature", teacherTemperature ?? temperature)] {
            guard value.isFinite, value > 0 else {
                throw FulcrumError.invalidParameter(argument: name, value: "\(value)", requirement: "finite and > 0")
            }
        }
        guard gradientScale.isFinite else {
            throw FulcrumError.invalidParameter(argument: "gradientScale", value: "\(gradientScale)", requirement: "finite")
        }
        try balance.validate()
        try checkShape(teacher, rows: rows, columns: classes, argument: "teacherLogits")
        try checkHasColumns(student, argument: "studentLogits", unit: "class")
        if let rowLosses { try checkCount(rowLosses.count, rows, argument: "rowLosses") }
        if reduction == .mean && rows == 0 {
            throw FulcrumError.emptyReduction(argument: "studentLogits", reason: "a mean over no rows")
        }
        let scale = reduction == .mean ? 1 / Double(rows) : 1
        let lossScale = scalesByTemperatureSquared ? Double(temperature) * Double(temperature) : 1
        let (ia, ib) = (1 / (teacherTemperature ?? temperature), 1 / temperature)
        let balance = self.balance, upstream = Double(gradientScale) * scale
        let sums = blockSums(rows: rows, classes: classes, scratchOf: T.self) { range, scratch in
            var total = DistillationSums()
            for n in range {
                let r = distillationRow(
                    student: student.row(n), teacher: teacher.row(n), classes: classes,
                    teacherInverseTemperature: ia, studentInverseTemperature: ib, lossScale: lossScale,
                    balance: balance, gradientScale: upstream, gradient: gradient?.row(n), scratch: scratch)
                guard r.isFinite else {
                    total.firstNonFinite = total.firstNonFinite ?? n
                    continue
                }
                rowLosses?[n] = T(r.loss)
                total.loss += r.loss
                total.forward += r.forward
                total.reverse += r.reverse
            }
            return total
        }
        if let n = sums.firstNonFinite {
            for (name, view) in [("studentLogits", student), ("teacherLogits", teacher)] {
                if let j = (0..<classes).first(where: { !view[n, $0].isFinite }) {
                    throw FulcrumError.nonFiniteValue(argument: name, row: n, column: j)
                }
            }
        }
        let parameters = "temperature, teacherTemperature"
        return DistillationResult(loss: try representableLoss(sums.loss * scale, as: T.self, parameters: parameters),
                                  forwardKL: try representableLoss(sums.forward * scale, as: T.self, parameters: parameters),
                                  reverseKL: try representableLoss(sums.reverse * scale, as: T.self, parameters: parameters))
    }
}

/// The scalar outputs of a distillation call, reduced like the loss.
public struct DistillationResult<T: FulcrumFloat>: Sendable, Equatable {
    /// The reduced loss (weights and T² included).
    public var loss: T
    /// KL(p_t‖p_s), reduced, without weights or T².
    public var forwardKL: T
    /// KL(p_s‖p_t), reduced, without weights or T².
    public var reverseKL: T
}

/// Per-block sums of a distillation call.
struct DistillationSums {
    var loss = 0.0, forward = 0.0, reverse = 0.0
    var firstNonFinite: Int?
}

extension DistillationSums: BlockSummable {
    mutating func add(_ other: DistillationSums) {
        loss += other.loss
        forward += other.forward
        reverse += other.reverse
        if firstNonFinite == nil { firstNonFinite = other.firstNonFinite }
    }
}
