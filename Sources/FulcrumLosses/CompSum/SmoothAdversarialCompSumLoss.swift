import FulcrumKernels

/// The smooth adversarial comp-sum losses of "Cross-Entropy Loss Functions: Theoretical Analysis
/// and Applications" (Section 6): a ρ-margin comp-sum loss on the clean logits plus ν times the
/// change of the margin vector between the clean and the adversarial logits,
///
///     ℓ = w_y·Φ^τ(Σ_{y'≠y} exp((h_{y'} − h_y)/ρ)) + ν·‖Δ(h') − Δ(h)‖₂,   Δ(h) = (h_y − h_{y'})_{y'≠y}
///
/// where h are the logits of the clean input and h' those of its adversarial perturbation (the
/// caller runs the attack; the supremum over the perturbation ball is the caller's search). With
/// d = h' − h, ‖Δ(h') − Δ(h)‖₂² = Σ_j (d_y − d_j)². The penalty's gradient is
/// ∂/∂h'_j = ν·(d_j − d_y)/R for j ≠ y, ν·(C·d_y − Σ_j d_j)/R at y, and its negative for h
/// (0 when R = 0, where the norm is not differentiable).
///
/// Cost: the comp-sum kernel (one read, one write) and one pass over both rows that adds the
/// penalty's gradient: O(N·C). Rows with the ignore index get zero gradients in both outputs.
/// The reduction applies to both terms (`.mean` divides by Σ w_y over counted rows).
public struct SmoothAdversarialCompSumLoss<T: FulcrumFloat>: Sendable {
    /// The comp-sum part (τ, ρ, class weights, ignore index, reduction, non-finite policy).
    public var compSum: CompSumLoss<T>
    /// ν ≥ 0: the weight of the margin-change penalty.
    public var nu: T

    /// The comp-sum part and the penalty weight ν; validated when called.
    public init(compSum: CompSumLoss<T>, nu: T) {
        self.compSum = compSum
        self.nu = nu
    }

    /// The loss; dL/dh into `gradient`, dL/dh' into `adversarialGradient` (both N×C).
    /// - Throws: `FulcrumError` for a bad τ, ρ or ν (argument `nu`: finite, ≥ 0), shapes that
    ///   differ from the logits', non-finite adversarial logits (argument `adversarialLogits`),
    ///   and everything `CompSumLoss` throws.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        logits: MatrixView<T>, adversarialLogits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>,
        gradient: MutableMatrixView<T>, adversarialGradient: MutableMatrixView<T>
    ) throws -> CrossEntropyResult<T> {
        guard nu.isFinite, nu >= 0 else {
            throw FulcrumError.invalidParameter(argument: "nu", value: "\(nu)", requirement: "finite and >= 0")
        }
        let (rows, classes) = (logits.rows, logits.columns)
        try checkShape(adversarialLogits, rows: rows, columns: classes, argument: "adversarialLogits")
        try checkShape(MatrixView(adversarialGradient), rows: rows, columns: classes, argument: "adversarialGradient")
        var result = try compSum.lossAndGradient(logits: logits, targets: targets, gradient: gradient)
        let scale = compSum.reduction == .mean ? 1 / Double(result.weightSum) : 1
        let ignore = compSum.ignoreIndex, nu = Double(self.nu)
        let penalty = blockSums(rows: rows, classes: classes) { range in
            var total = 0.0
            for n in range {
                let out = adversarialGradient.row(n)
                guard targets[n] != ignore else {
                    out.update(repeating: 0, count: classes)
                    continue
                }
                total += marginChangePenaltyRow(clean: logits.row(n), adversarial: adversarialLogits.row(n),
                                                target: Int(targets[n]), classes: classes, nu: nu, scale: scale,
                                                cleanGradient: gradient.row(n), adversarialGradient: out)
            }
            return total
        }
        guard penalty.isFinite || !result.loss.isFinite else {
            let n = (0..<rows).first { n in (0..<classes).contains { !adversarialLogits[n, $0].isFinite } } ?? 0
            let j = (0..<classes).first { !adversarialLogits[n, $0].isFinite } ?? 0
            throw FulcrumError.nonFiniteValue(argument: "adversarialLogits", row: n, column: j)
        }
        result.loss += T(penalty * scale)
        return result
    }
}

/// One row of ν·‖Δ(h') − Δ(h)‖₂: returns the penalty, adds its gradient (times `scale`) to the
/// clean gradient row and writes it to the adversarial gradient row.
@inline(__always)
func marginChangePenaltyRow<T: FulcrumFloat>(
    clean: UnsafePointer<T>, adversarial: UnsafePointer<T>, target y: Int, classes: Int, nu: Double, scale: Double,
    cleanGradient: UnsafeMutablePointer<T>, adversarialGradient: UnsafeMutablePointer<T>
) -> Double {
    let dy = adversarial[y] - clean[y]
    let dyv = T.Vector(repeating: dy)
    @inline(__always) func shift(_ j: Int, _ count: Int) -> T.Vector {
        let d = adversarial.loadVector(at: j, count: count) - clean.loadVector(at: j, count: count)
        return count == T.vectorWidth ? d : T.keepingLanes(below: count, of: d, fill: dy)
    }
    let squares = chunkedSum(T.self, from: 0, to: classes) { j, count in
        let gap = dyv - shift(j, count)
        return gap * gap
    }
    let shifts = chunkedSum(T.self, from: 0, to: classes) { j, count in
        let d = shift(j, count)
        return count == T.vectorWidth ? d : T.keepingLanes(below: count, of: d, fill: 0)
    }
    let norm = squares.squareRoot()
    let factor = norm > 0 ? nu * scale / norm : 0
    let f = T.Vector(repeating: T(factor))
    forEachVector(T.self, from: 0, to: classes) { j, count in
        let g = (shift(j, count) - dyv) * f
        adversarialGradient.storeVector(g, at: j, count: count)
        cleanGradient.storeVector(UnsafePointer(cleanGradient).loadVector(at: j, count: count) - g, at: j, count: count)
    }
    let gy = T(factor * (Double(classes) * Double(dy) - shifts))
    adversarialGradient[y] = gy
    cleanGradient[y] -= gy  // the loop added 0 at y
    return nu * norm
}
