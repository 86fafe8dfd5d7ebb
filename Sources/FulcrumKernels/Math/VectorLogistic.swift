// The logistic function's building blocks per lane, for sigmoid losses and gates.

extension FulcrumFloat {
    /// For logits x per lane: e = e^{−|x|}, r = 1/(1 + e) and log1p(e) = softplus(−|x|), from
    /// which every sigmoid quantity follows with full relative accuracy and without overflow:
    ///
    ///     σ(x)      = x < 0 ? e·r : r        1 − σ(x) = x < 0 ? r : e·r
    ///     softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e) = −log σ(−x)
    ///
    /// (the choices by the sign of x are one blend each: `select(whereSignOf:)`; at x = −0 both
    /// sides agree)
    ///
    /// (the naive 1 − σ(x) and log(1 + eˣ) cancel or overflow for large |x|).
    ///
    /// log1p(e) = 2·atanh(s) with s = e/(2 + e) ∈ [0, 1/3], summed as 2s·Σ_k s^{2k}/(2k + 1)
    /// (9 terms for Float, 17 for Double: the truncation is below half an ulp at s = 1/3), so tiny
    /// e keeps its relative accuracy; r and s come from one division, 1/((1 + e)(2 + e)). Against
    /// libm the tests bound e to 2 ulp, r to 4 and log1p(e) to 6 (it inherits e's error). e uses `exponentialOfShift`, so it is 0
    /// where e^{−|x|} is below the smallest normal number (|x| > 87.3 for Float, > 708.4 for
    /// Double): there σ(x) and log1p(e) are 0 instead of subnormal. ±∞ gives e = 0, r = 1,
    /// log1p(e) = 0; NaN gives NaN in every output.
    ///
    /// Cost: one exponential, one division and about 15 multiply-adds per vector, no logarithm.
    @inlinable @inline(__always)
    public static func logisticParts(_ x: Vector) -> (exponential: Vector, reciprocal: Vector, log1pExponential: Vector) {
        let e = exponentialOfShift(negativeMagnitude(x))
        let (a, b) = (e + 1, e + 2)
        let q = 1 / (a * b)
        let s = e * a * q
        return (e, b * q, (s + s) * atanhSeries(s * s))
    }

    /// Σ_k z^k/(2k + 1), k ≤ 8 for Float and k ≤ 16 for Double (atanh(s)/s at z = s²), as
    /// 1 + z·Q(z): Q's coefficients 1/3, 1/5, … are combined by Estrin's scheme (pairs c + c′z,
    /// then z², z⁴, z⁸), so the dependency chain is about 5 multiply-adds deep instead of Horner's
    /// 8 or 16, and the last step adds the small z·Q to 1 with a single rounding. Literal
    /// coefficients, so that the specialised code holds no division.
    @inlinable @inline(__always)
    static func atanhSeries(_ z: Vector) -> Vector {
        let z2 = z * z, z4 = z2 * z2
        /// Σ_{k<8} c_k·z^k for the eight coefficients c.
        @inline(__always) func eight(_ c: (Self, Self, Self, Self, Self, Self, Self, Self)) -> Vector {
            @inline(__always) func pair(_ a: Self, _ b: Self) -> Vector { multiplyAdd(z, Vector(repeating: b), Vector(repeating: a)) }
            let low = multiplyAdd(z2, pair(c.2, c.3), pair(c.0, c.1))
            let high = multiplyAdd(z2, pair(c.6, c.7), pair(c.4, c.5))
            return multiplyAdd(z4, high, low)
        }
        var q = eight((0.333_333_333_333_333_333, 0.2, 0.142_857_142_857_142_857,  // 1/3, 1/5, 1/7
                       0.111_111_111_111_111_111, 0.090_909_090_909_090_909,  // 1/9, 1/11
                       0.076_923_076_923_076_923, 0.066_666_666_666_666_667,  // 1/13, 1/15
                       0.058_823_529_411_764_706))  // 1/17
        if MemoryLayout<Self>.size > 4 {
            let z8 = z4 * z4
            q = multiplyAdd(z8, eight((0.052_631_578_947_368_421, 0.047_619_047_619_047_619,  // 1/19, 1/21
                                       0.043_478_260_869_565_217, 0.04,  // 1/23, 1/25
                                       0.037_037_037_037_037_037, 0.034_482_758_620_689_655,  // 1/27, 1/29
                                       0.032_258_064_516_129_032, 0.030_303_030_303_030_303)), q)  // 1/31, 1/33
        }
        return multiplyAdd(q, z, Vector(repeating: 1))
    }
}
