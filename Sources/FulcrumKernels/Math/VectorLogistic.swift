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
    /// e keeps its relative accuracy; r and s come from one division, 1/((1 + e)(2 + e)). Against
    /// libm the tests bound e to 2 ulp, r to 4 and log1p(e) to 6 (it inherits e's error). e uses `exponentialOfShift`, so it is 0
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
        let s = e * a * q
        return (e, b * q, (s + s) * atanhSeries(s * s))
    }

    /// Σ_k z^k/(2k + 1) by Horner, k < 8 for Float and k < 17 for Double (atanh(s)/s at z = s²),
    /// with literal coefficients so that the specialised code holds no division.
    @inlinable @inline(__always)
    static func atanhSeries(_ z: Vector) -> Vector {
        @inline(__always) func step(_ p: Vector, _ c: Self) -> Vector { multiplyAdd(p, z, Vector(repeating: c)) }
        var p: Vector
        if MemoryLayout<Self>.size > 4 {
            p = Vector(repeating: 0.030_303_030_303_030_303)  // 1/33
            p = step(p, 0.032_258_064_516_129_032)  // 1/31
            p = step(p, 0.034_482_758_620_689_655)  // 1/29
            p = step(p, 0.037_037_037_037_037_037)  // 1/27
            p = step(p, 0.04)  // 1/25
            p = step(p, 0.043_478_260_869_565_217)  // 1/23
            p = step(p, 0.047_619_047_619_047_619)  // 1/21
            p = step(p, 0.052_631_578_947_368_421)  // 1/19
            p = step(p, 0.058_823_529_411_764_706)  // 1/17
            p = step(p, 0.066_666_666_666_666_667)  // 1/15
        } else {
            p = Vector(repeating: 0.066_666_666_666_666_667)  // 1/15
        }
        p = step(p, 0.076_923_076_923_076_923)  // 1/13
        p = step(p, 0.090_909_090_909_090_909)  // 1/11
        p = step(p, 0.111_111_111_111_111_111)  // 1/9
        p = step(p, 0.142_857_142_857_142_857)  // 1/7
        p = step(p, 0.2)  // 1/5
        p = step(p, 0.333_333_333_333_333_333)  // 1/3
        return step(p, 1)
    }
}
