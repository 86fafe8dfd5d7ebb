import FulcrumKernels

// One row of the fused sigmoid binary cross-entropy: a single pass, element by element, reading
// the logits and targets once and writing the gradient once.

/// Row-independent settings of one call.
struct SigmoidPlan<T: FulcrumFloat> {
    var columns: Int
    var positiveWeights: UnsafePointer<T>?
    var classWeights: UnsafePointer<T>?
    /// γ > 0 for the focal factor, 0 for none.
    var gamma: T
    /// α ∈ [0, 1] for the focal α_t, nil for none.
    var alpha: T?
    /// Upstream gradient × the reduction's 1/count.
    var gradientScale: T
    var writesGradient: Bool
}

/// log1p(e) for e ∈ [0, 1] per lane, given 1/u for u = 1 + e: log(u) − ((u − 1) − e)/u, which
/// restores the low bits of e that 1 + e rounds away (relative accuracy for tiny e).
@inline(__always)
func vectorLog1p<T: FulcrumFloat>(_: T.Type, _ e: T.Vector, inverse: T.Vector) -> T.Vector {
    let u = e + 1
    return T.log(u) - ((u - 1) - e) * inverse
}

/// The row's loss sum (Double), and its gradient written when the plan asks; returns nil when a
/// logit or target is not finite (nothing written).
@inline(__always)
func sigmoidBinaryCrossEntropyRow<T: FulcrumFloat>(
    logits: UnsafePointer<T>, targets: UnsafePointer<T>, gradient: UnsafeMutablePointer<T>?, plan: SigmoidPlan<T>
) -> Double? {
    let zero = T.Vector(), one = T.Vector(repeating: 1)
    let gamma = T.Vector(repeating: plan.gamma), scale = T.Vector(repeating: plan.gradientScale)
    var probe = T.Vector()
    let total = chunkedSum(T.self, from: 0, to: plan.columns) { j, count in
        let x = logits.loadVector(at: j, count: count), y = targets.loadVector(at: j, count: count)
        probe += (x - x) + (y - y)
        let magnitude = T.select(where: x, isLessThan: zero, -x, else: x)
        let e = T.exp(-magnitude)
        let inverse = one / (one + e)
        let l = vectorLog1p(T.self, e, inverse: inverse)
        let (large, small) = (inverse, e * inverse)
        let p = T.select(where: x, isLessThan: zero, small, else: large)  // σ(x)
        let pc = T.select(where: x, isLessThan: zero, large, else: small)  // 1 − σ(x), accurate
        let softplusX = T.maximum(x, zero) + l, softplusMinusX = T.maximum(-x, zero) + l
        var positive = y
        if let w = plan.positiveWeights { positive *= w.loadVector(at: j, count: count) }
        let notY = one - y
        var loss = positive * softplusMinusX + notY * softplusX
        var slope = notY * p - positive * pc
        if plan.gamma > 0 {
            let q = p * notY + y * pc  // 1 − p_t
            let power = T.exp(gamma * T.log(q))  // q^γ (0 at q = 0)
            let ratio = T.select(where: zero, isLessThan: q, power / q, else: zero)
            slope = power * slope + gamma * ratio * (notY - y) * p * pc * loss
            loss = power * loss
        }
        if let alpha = plan.alpha {
            let a = T.Vector(repeating: alpha)
            let at = a * y + (one - a) * notY
            loss *= at
            slope *= at
        }
        if let w = plan.classWeights {
            let wv = w.loadVector(at: j, count: count)
            loss *= wv
            slope *= wv
        }
        if plan.writesGradient, let gradient { gradient.storeVector(slope * scale, at: j, count: count) }
        return count == T.vectorWidth ? loss : T.keepingLanes(below: count, of: loss, fill: 0)
    }
    return probe.sum().isFinite ? total : nil
}
