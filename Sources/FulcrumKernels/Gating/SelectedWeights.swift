// The weights of the k selected experts of one token, shared by the forward and backward passes
// so that both see exactly the same numbers.

/// Sums below this fall back to the softmax form (see `normalizedOrSoftmax`).
let sigmoidSumFloor: Float = 1e-30

/// wₐ = e^{x_{eₐ} − m}/Σ_b e^{x_{e_b} − m} with m the largest selected logit: the softmax over the
/// selected logits, exact even when the selection (through a bias) skipped the row maximum.
/// A term below 2⁻¹²⁶ of the largest is 0 (`exponentialOfShift`), as in the forward pass's
/// e^{x−m}, so the two give the same weights bit for bit. Cost: k/8 vector exponentials.
@inline(__always)
func selectedSoftmax(
    _ x: UnsafePointer<Float>, _ experts: UnsafePointer<Int32>, _ k: Int, into w: UnsafeMutablePointer<Float>
) {
    var m = -Float.infinity
    for a in 0..<k where x[Int(experts[a])] > m { m = x[Int(experts[a])] }
    var total: Float = 0
    var a = 0
    while a < k {
        let n = min(8, k - a)
        var v = SIMD8<Float>(repeating: -.infinity)
        for lane in 0..<n { v[lane] = x[Int(experts[a + lane])] - m }
        let e = Float.exponentialOfShift(v)
        for lane in 0..<n {
            w[a + lane] = e[lane]
            total += e[lane]
        }
        a += 8
    }
    for a in 0..<k { w[a] /= total }
}

/// `selectedSoftmax` for 8 tokens at once, one token per lane: replaces slot a's selected logits
/// at `slots[8a ..< 8a + 8]` (a < k) by e^{x_a − m}/Σ_b e^{x_b − m}, m each token's largest selected
/// logit, with the same arithmetic per lane. Cost: k vector exponentials for the 8 tokens.
@inline(__always)
func selectedSoftmaxOfLanes(_ slots: UnsafeMutablePointer<Float>, count k: Int) {
    @inline(__always) func slot(_ a: Int) -> SIMD8<Float> { UnsafePointer(slots).loadVector(at: 8 &* a, as: SIMD8<Float>.self) }
    var m = slot(0)
    for a in 1..<k { m = Float.maximum(m, slot(a)) }
    var total = SIMD8<Float>()
    for a in 0..<k {
        let v = Float.exponentialOfShift(slot(a) - m)
        slots.storeVector(v, at: 8 &* a)
        total += v
    }
    for a in 0..<k { slots.storeVector(slot(a) / total, at: 8 &* a) }
}

/// wₐ = σ_{eₐ}/Σ_b σ_{e_b} for sigmoid scores σ (gathered from `sigma`). When every selected
/// logit is below about −69 the sum of the sigmoids underflows towards 0; there
/// σ(x) = eˣ·(1 + O(eˣ)) and the ratio equals the softmax over the selected logits to Float
/// precision, which is what this returns instead of 0/0.
@inline(__always)
func normalizedOrSoftmax(
    _ sigma: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ experts: UnsafePointer<Int32>, _ k: Int,
    into w: UnsafeMutablePointer<Float>
) {
    var total: Float = 0
    for a in 0..<k { total += sigma[Int(experts[a])] }
    if total < sigmoidSumFloor {
        selectedSoftmax(x, experts, k, into: w)
    } else {
        for a in 0..<k { w[a] = sigma[Int(experts[a])] / total }
    }
}
