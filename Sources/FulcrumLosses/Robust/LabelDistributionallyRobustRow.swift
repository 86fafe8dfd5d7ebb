import FulcrumKernels

// One row of the LDR-KL loss: a softmax over the margin-shifted, temperature-scaled scores
// z_k = (s_k + c·[k ≠ y])/λ, walked in chunks (`RowChunks`) so that the row is read from memory
// once whatever its length: per chunk, its maximum, then its exponentials against that maximum
// (stored in the gradient row) with two sums recorded in Double; the records rescaled to the
// row's maximum; the gradient written once from the stored exponentials and each chunk's scale.
//
// A chunk's maximum is taken before the scaling, on u_k = s_k + c·[k ≠ y] (rounded as z's first
// step), and scaled once: rounding is monotonic and 1/λ > 0, so max(u)·(1/λ) is exactly the
// largest z. Kept in the chunk's record, it serves a second pass over the same row at another λ
// (ALDR-KL's update, then its loss), which then skips the maximum pass and the finiteness probe.

/// What one LDR-KL row produced.
struct RobustRowOutcome {
    var loss = 0.0
    /// ∂ℓ/∂λ = H(q) − log K.
    var temperatureSlope = 0.0
    var isFinite = true
}

/// One row's loss, ∂ℓ/∂λ when `needsTemperatureSlope` (else 0: one multiply-add per element
/// less), and, when `gradient` is non-nil, ∂ℓ/∂s times `gradientScale` (`gradient` may be the
/// scores' memory). `chunkRecords` holds `RowChunks.recordLength`
/// Doubles per chunk. A row with a non-finite score returns `isFinite == false` with its
/// gradient row partly written. `reusesMaxima`: the records hold the unscaled chunk maxima of an
/// earlier call on this row that found it finite.
@inline(__always)
func labelDistributionallyRobustRow<T: FulcrumFloat>(
    scores: UnsafePointer<T>, target y: Int, classes: Int, lambda: Double, margin: T, needsTemperatureSlope: Bool,
    gradientScale: Double, gradient: UnsafeMutablePointer<T>?, chunkRecords records: UnsafeMutablePointer<Double>,
    reusesMaxima: Bool = false
) -> RobustRowOutcome {
    let width = T.vectorWidth, zero = T.Vector()
    let inverse = T(1 / lambda)
    let (iv, cv) = (T.Vector(repeating: inverse), T.Vector(repeating: margin))
    let zy = scores[y] * inverse
    var outcome = RobustRowOutcome()
    /// u = x + c·[k ≠ y] on lanes j ..< j + count (padding lanes hold c) for the scores x there.
    @inline(__always) func u(_ x: T.Vector, _ j: Int, _ count: Int) -> T.Vector {
        var v = x + cv
        if j <= y && y < j + count { v[y - j] = x[y - j] }
        return v
    }
    var probe = zero
    var m = -T.infinity
    var start = 0, chunk = 0
    while start < classes {
        let end = min(classes, start + RowChunks.length)
        let record = records + RowChunks.recordLength * chunk
        if !reusesMaxima {
            var high = T.Vector(repeating: -.infinity)
            forEachVector(T.self, from: start, to: end) { j, count in
                let x = scores.loadVector(at: j, count: count)
                probe = T.multiplyAdd(x, zero, probe)  // 0 unless a value is ±∞ or NaN
                let v = u(x, j, count)
                high = T.maximum(count < width ? T.keepingLanes(below: count, of: v, fill: -.infinity) : v, high)
            }
            record[3] = Double(T.largestLane(high))
        }
        let chunkMaximum = T(record[3]) * inverse, mv = T.Vector(repeating: chunkMaximum)
        var vs = zero, vw = zero
        forEachVector(T.self, from: start, to: end) { j, count in
            scores.prefetch(at: j + 2 * RowChunks.length)  // the read two chunks ahead overlaps this chunk's exponentials
            gradient?.prefetchForWriting(at: j + 2 * RowChunks.length)
            let d = u(scores.loadVector(at: j, count: count), j, count) * iv - mv
            var e = T.exponentialOfShift(d)
            if count < width { e = T.keepingLanes(below: count, of: e, fill: 0) }
            gradient?.storeVector(e, at: j, count: count)
            vs += e
            if needsTemperatureSlope { vw = T.multiplyAdd(e, d, vw) }
        }
        (record[0], record[1], record[2]) = (Double(chunkMaximum), Double(T.sumOfLanes(vs)), Double(T.sumOfLanes(vw)))
        m = max(m, chunkMaximum)
        start = end
        chunk += 1
    }
    guard T.sumOfLanes(probe) == 0 else {
        outcome.isFinite = false
        return outcome
    }
    // S = Σ_c f_c·S_c and Σ e·(z − m) = Σ_c f_c·(W_c + u_c·S_c), f_c = e^{u_c}, u_c = m_c − m.
    var s = 0.0, weighted = 0.0
    for c in 0..<chunk {
        let record = records + RowChunks.recordLength * c
        let u = record[0] - Double(m)
        let f = Double.exp(u)
        s += f * record[1]
        weighted += f * (record[2] + u * record[1])
        record[0] = f
    }
    let logS = Double.log(s), logK = Double.log(Double(classes))
    outcome.loss = lambda * (Double(m - zy) + logS - logK)
    if needsTemperatureSlope { outcome.temperatureSlope = (logS - weighted / s) - logK }
    guard let gradient else { return outcome }
    let stored = UnsafePointer(gradient)
    for c in 0..<chunk {
        let a = T.Vector(repeating: T(gradientScale * records[RowChunks.recordLength * c] / s))
        forEachVector(T.self, from: c * RowChunks.length, to: min(classes, (c + 1) * RowChunks.length)) { j, count in
            gradient.storeVector(stored.loadVector(at: j, count: count) * a, at: j, count: count)
        }
    }
    gradient[y] = T(Double(gradient[y]) - gradientScale)
    return outcome
}
