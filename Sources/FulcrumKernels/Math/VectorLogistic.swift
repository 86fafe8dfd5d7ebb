// The logistic function's building blocks per lane, for sigmoid losses and gates.

extension FulcrumFloat {
    /// For logits x per lane: e = e^{−|x|}, r = 1/(1 + e) and log1p(e) = softplus(−|x|), from
    /// which every sigmoid quantity follows with full relative accuracy and without overflow:
    ///
    ///     σ(x)      = x < 0 ? e·r : r        1 − σ(x) = x < 0 ? r : e·r
    ///     softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e) = −log σ(−x)
    ///
    /// (the naive 1 − σ(x) and log(1 + eˣ) cancel or overflow for large |x|).
    ///
    /// log1p(e) = 2·atanh(s) with s = e/(2 + e) ∈ [0, 1/3], summed as 2s·Σ_k s^{2k}/(2k + 1)
    /// (8 terms for Float, 17 for Double: the truncation is below half an ulp at s = 1/3), so tiny
    /// e keeps its relative accuracy; r and s come from one division, 1/((1 + e)(2 + e)). Errors
    /// are a few ulp (checked against libm in the tests). e uses `exponentialOfShift`, so it is 0
    /// where e^{−|x|} is below the smallest normal number (|x| > 87.3 for Float, > 708.4 for
    /// Double): there σ(x) and log1p(e) are 0 instead of subnormal. ±∞ gives e = 0, r = 1,
    /// log1p(e) = 0; NaN gives NaN in every output.
    ///
    /// Cost: one exponential, one division and about 15 multiply-adds per vector, no logarithm.
    @inlinable @inline(__always)
    public static func logisticParts(_ x: Vector) -> (exponential: Vector, reciprocal: Vector, log1pExponential: Vector) {
        let zero = Vector()
        let e = exponentialOfShift(select(where: x, isLessThan: zero, x, else: -x))
        let (a, b) = (e + 1, e + 2)
        let q = 1 / (a * b)
        let s = e * a * q, z = s * s
        let terms = MemoryLayout<Self>.size == 4 ? 8 : 17
        var p = Vector(repeating: 1 / Self(2 * terms - 1))
        for k in stride(from: terms - 2, through: 0, by: -1) {
            p = multiplyAdd(p, z, Vector(repeating: 1 / Self(2 * k + 1)))
        }
        return (e, b * q, (s + s) * p)
    }
}
