import FulcrumKernels

// One row of the fused sigmoid binary cross-entropy: a single pass, element by element, reading
// the logits and targets once and writing the gradient once.

/// Row-independent settings of one call.
struct SigmoidPlan<T: FulcrumFloat> {
    var columns: Int
    /// π_c and w_c per column; ones where the caller gave none.
    var positiveWeights: UnsafePointer<T>
    var classWeights: UnsafePointer<T>
    /// No weights given and no focal term: the rows take the plain copy of the pass.
    var isPlain: Bool
    /// Whether a weight row was given (else the general copy skips both weight rows).
    var isWeighted: Bool
    /// γ > 0 for the focal factor, 0 for none.
    var gamma: T
    /// γ when it is a whole number in 0 ... 4 (the factor is then a product, not exp(γ·log)).
    var wholeGamma: Int?
    /// α ∈ [0, 1] for the focal α_t, nil for none.
    var alpha: T?
    /// Upstream gradient × the reduction's 1/count.
    var gradientScale: T
    var writesGradient: Bool

    init(columns: Int, positiveWeights: UnsafePointer<T>, classWeights: UnsafePointer<T>, weighted: Bool,
         gamma: T, alpha: T?, gradientScale: T, writesGradient: Bool) {
        self.columns = columns
        self.positiveWeights = positiveWeights
        self.classWeights = classWeights
        self.isPlain = !weighted && gamma == 0 && alpha == nil
        self.isWeighted = weighted
        self.gamma = gamma
        self.wholeGamma = (0...4).first { T($0) == gamma }
        self.alpha = alpha
        self.gradientScale = gradientScale
        self.writesGradient = writesGradient
    }
}

/// The row's loss sum (Double), and its gradient written when the plan asks; returns nil when a
/// logit or target is not finite (the gradient row is then written with non-finite values).
///
/// Copies of one pass, each with only the code its options need: the plain one
/// (`plan.isPlain`); one unweighted focal copy per whole γ ∈ 0 … 4 (γ = 0 with an α), whose
/// factor is that product (a switch on γ inside one shared loop cost 2–3% more time); the
/// unweighted one with any γ (exp(γ·log)); and the weighted one, which multiplies by both weight
/// rows (ones where the caller gave only one). Optional weight vectors
/// tested inside the loop made the compiler keep the targets in split pieces and reassemble them
/// with shuffles, about doubling the loop; the general power's constants, kept in registers in a
/// loop that did not use them, made it spill the focal terms to the stack.
@inline(__always)
func sigmoidBinaryCrossEntropyRow<T: FulcrumFloat>(
    logits: UnsafePointer<T>, targets: UnsafePointer<T>, gradient: UnsafeMutablePointer<T>?, plan: SigmoidPlan<T>
) -> Double? {
    @inline(__always) func pass(_ focus: FocalPowers, weighted: Bool = false) -> Double? {
        sigmoidRowPass(logits: logits, targets: targets, gradient: gradient, plan: plan, focus: focus, weighted: weighted)
    }
    if plan.isPlain { return pass(.none) }
    if plan.isWeighted { return pass(.any, weighted: true) }
    // One copy per whole γ, so that each loop holds only its own product.
    switch plan.wholeGamma {
    case 0?: return pass(.whole(0))
    case 1?: return pass(.whole(1))
    case 2?: return pass(.whole(2))
    case 3?: return pass(.whole(3))
    case 4?: return pass(.whole(4))
    default: return pass(.any)
    }
}

/// Which focal factors a copy of the pass computes.
enum FocalPowers: Equatable {
    /// No focal factor and no α.
    case none
    /// (1 − p_t)^γ as a product for this γ ∈ 0 … 4 (`SigmoidPlan.wholeGamma`).
    case whole(Int)
    /// Any γ ≥ 0: a product for a whole γ, else exp(γ·log(1 − p_t)).
    case any

    /// The whole γ whose product this copy computes: its own for `.whole`, the plan's
    /// (`SigmoidPlan.wholeGamma`, a loop invariant) for `.any`.
    @inline(__always)
    func wholeGamma(_ planned: Int?) -> Int? {
        switch self {
        case .none: return 0
        case .whole(let gamma): return gamma
        case .any: return planned
        }
    }
}

/// The pass of `sigmoidBinaryCrossEntropyRow`; `focus` and `weighted` are literals in each
/// inlined copy.
@inline(__always)
private func sigmoidRowPass<T: FulcrumFloat>(
    logits: UnsafePointer<T>, targets: UnsafePointer<T>, gradient: UnsafeMutablePointer<T>?, plan: SigmoidPlan<T>,
    focus: FocalPowers, weighted: Bool
) -> Double? {
    let zero = T.Vector(), one = T.Vector(repeating: 1)
    let gamma = T.Vector(repeating: plan.gamma), scale = T.Vector(repeating: plan.gradientScale)
    let alphaSlope = T.Vector(repeating: plan.alpha.map { 2 * $0 - 1 } ?? 0), alphaBase = T.Vector(repeating: plan.alpha.map { 1 - $0 } ?? 1)
    var probe = T.Vector()
    let total = chunkedSum(T.self, from: 0, to: plan.columns) { j, count in
        let x = logits.loadVector(at: j, count: count), y = targets.loadVector(at: j, count: count)
        probe = T.multiplyAdd(x + y, zero, probe)  // 0 unless a value is ±∞ or NaN
        let (e, r, l) = T.logisticParts(x)
        let er = e * r
        let p = T.select(whereSignOf: x, er, else: r)  // σ(x)
        let pc = T.select(whereSignOf: x, r, else: er)  // 1 − σ(x), accurate
        // softplus(±x) = max(±x, 0) + log1p(e): one of the two is log1p(e), the other |x| + log1p(e).
        let lifted = l - T.negativeMagnitude(x)
        let softplusX = T.select(whereSignOf: x, l, else: lifted), softplusMinusX = T.select(whereSignOf: x, lifted, else: l)
        let positive = weighted ? y * plan.positiveWeights.loadVector(at: j, count: count) : y
        let notY = one - y
        var loss = T.multiplyAdd(positive, softplusMinusX, notY * softplusX)
        var slope = T.multiplyAdd(-positive, pc, notY * p)
        if focus != .none {
            let q = T.multiplyAdd(p, notY, y * pc)  // 1 − p_t
            // (q^γ, γ·q^{γ−1}): a product for a whole γ, else exp(γ·log q), 0 at q = 0.
            let power: T.Vector, derivative: T.Vector
            switch focus.wholeGamma(plan.wholeGamma) {
            case 0?: (power, derivative) = (one, zero)
            case 1?: (power, derivative) = (q, one)
            case 2?: (power, derivative) = (q * q, q + q)
            case 3?: (power, derivative) = (q * q * q, 3 * (q * q))
            case 4?: (power, derivative) = ((q * q) * (q * q), 4 * (q * q * q))
            default:
                power = T.exp(gamma * T.log(q))
                derivative = T.select(where: zero, isLessThan: q, gamma * power / q, else: zero)
            }
            // α_t = α·y + (1 − α)(1 − y) (1 without an α) folded into the factor and its
            // derivative; the derivative times (1 − 2y)·p·(1 − p)·ce as a tree of products.
            let at = T.multiplyAdd(alphaSlope, y, alphaBase)
            let factor = at * power
            slope = T.multiplyAdd(factor, slope, ((at * derivative) * (notY - y)) * ((p * pc) * loss))
            loss = factor * loss
        }
        if weighted {
            let wv = plan.classWeights.loadVector(at: j, count: count)
            loss *= wv
            slope *= wv
        }
        if plan.writesGradient, let gradient { gradient.storeVector(slope * scale, at: j, count: count) }
        return count == T.vectorWidth ? loss : T.keepingLanes(below: count, of: loss, fill: 0)
    }
    return T.sumOfLanes(probe) == 0 ? total : nil
}
