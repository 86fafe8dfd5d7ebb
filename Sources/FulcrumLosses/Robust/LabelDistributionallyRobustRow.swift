import FulcrumKernels

// One row of the LDR-KL loss: a softmax over the margin-shifted, temperature-scaled scores
// z_k = (s_k + c·[k ≠ y])/λ, three passes over a row that stays in cache (max; exponentials
// stored in the gradient row with two Double-combined sums; the gradient written once).

/// What one LDR-KL row produced.
struct RobustRowOutcome {
    var loss = 0.0
    /// ∂ℓ/∂λ = H(q) − log K.
    var temperatureSlope = 0.0
    var isFinite = true
}

@inline(__always)
func labelDistributionallyRobustRow<T: FulcrumFloat>(
    scores: UnsafePointer<T>, target y: Int, classes: Int, lambda: Double, margin: T,
    gradientScale: Double, gradient: UnsafeMutablePointer<T>?
) -> RobustRowOutcome {
    let width = T.vectorWidth
    let inverse = T(1 / lambda)
    let (iv, cv) = (T.Vector(repeating: inverse), T.Vector(repeating: margin))
    let zy = scores[y] * inverse
    var outcome = RobustRowOutcome()
    /// z on lanes j ..< j + count, −∞ on padding lanes.
    @inline(__always) func z(_ j: Int, _ count: Int) -> T.Vector {
        var v = (scores.loadVector(at: j, count: count) + cv) * iv
        if count < width { v = T.keepingLanes(below: count, of: v, fill: -.infinity) }
        if j <= y && y < j + count { v[y - j] = zy }
        return v
    }
    var high = T.Vector(repeating: -.infinity), probe = T.Vector()
    forEachVector(T.self, from: 0, to: classes) { j, count in
        let x = scores.loadVector(at: j, count: count)
        probe += x - x
        high = T.maximum(z(j, count), high)
    }
    guard probe.sum().isFinite else {
        outcome.isFinite = false
        return outcome
    }
    let m = high.max(), mv = T.Vector(repeating: m)
    var s = 0.0, weighted = 0.0, start = 0
    while start < classes {
        let end = min(classes, start + 512)
        var vs = T.Vector(), vw = T.Vector()
        forEachVector(T.self, from: start, to: end) { j, count in
            let d = z(j, count) - mv
            let e = T.exp(d)
            gradient?.storeVector(e, at: j, count: count)
            vs += e
            vw += e * T.select(where: d, isLessThan: T.Vector(repeating: -.greatestFiniteMagnitude), T.Vector(), else: d)
        }
        s += Double(vs.sum())
        weighted += Double(vw.sum())
        start = end
    }
    let logS = Double.log(s), logK = Double.log(Double(classes))
    outcome.loss = lambda * (Double(m - zy) + logS - logK)
    outcome.temperatureSlope = (logS - weighted / s) - logK
    guard let gradient else { return outcome }
    let a = T.Vector(repeating: T(gradientScale / s))
    let stored = UnsafePointer(gradient)
    forEachVector(T.self, from: 0, to: classes) { j, count in
        gradient.storeVector(stored.loadVector(at: j, count: count) * a, at: j, count: count)
    }
    gradient[y] = T(Double(gradient[y]) - gradientScale)
    return outcome
}
