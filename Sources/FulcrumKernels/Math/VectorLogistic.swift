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
    /// log1p(e) keeps its relative accuracy for tiny e. For Float it is e + e²·S(e) with S a
    /// degree-7 minimax fit of (log1p(e) − e)/e² on [0, 1] (`logOnePlusUnit`), which runs beside
    /// the division for r instead of after it. For Double it is 2·atanh(s) with s = e/(2 + e) ∈
    /// [0, 1/3], summed as 2s·Σ_k s^{2k}/(2k + 1) to 17 terms (below half an ulp at s = 1/3), r and
    /// s from one division, 1/((1 + e)(2 + e)). Against libm the tests bound e to 2 ulp, r to 4
    /// and log1p(e) to 6 (it inherits e's error). e uses `exponentialOfShift`, so it is 0
    /// where e^{−|x|} is below the smallest normal number (|x| > 87.3 for Float, > 708.4 for
    /// Double): there σ(x) and log1p(e) are 0 instead of subnormal. ±∞ gives e = 0, r = 1,
    /// log1p(e) = 0; NaN gives NaN in every output.
    ///
    /// Cost: one exponential, one division and about 10 (Float) or 20 (Double) multiply-adds per
    /// vector, no logarithm.
    @inlinable @inline(__always)
    public static func logisticParts(_ x: Vector) -> (exponential: Vector, reciprocal: Vector, log1pExponential: Vector) {
        let e = exponentialOfShift(negativeMagnitude(x))
        if MemoryLayout<Self>.size == 4 { return (e, 1 / (e + 1), logOnePlusUnit(e)) }
        let (a, b) = (e + 1, e + 2)
        let q = 1 / (a * b)
        let s = e * a * q
        return (e, b * q, (s + s) * atanhSeries(s * s))
    }

    /// log(1 + e) for Float lanes e ∈ [0, 1]: e + e²·S(e), S a degree-7 minimax fit of
    /// (log1p(e) − e)/e² weighted for the relative error of the result (0.55·2⁻²⁴ before
    /// rounding), so that the chain after e is four operations deep and tiny e keeps e itself.
    /// Within 1.6 ulp of the correctly rounded value for exact e (a dense sweep against a 40-digit
    /// reference when it was fitted); log(1 + 1) rounds to ln 2 correctly.
    @inlinable @inline(__always)
    static func logOnePlusUnit(_ e: Vector) -> Vector {
        let s = polynomial(e, (-0.499_996_48, 0.333_213_24, -0.248_571_63, 0.191_536_53,
                               -0.137_537_99, 0.079_204_5, -0.030_065_77, 0.005_364_818_5))
        return multiplyAdd(e * e, s, e)
    }

    /// Σ_k z^k/(2k + 1), k ≤ 16 (atanh(s)/s at z = s², the Double log1p of `logisticParts`), as
    /// 1 + z·Q(z), Q's sixteen coefficients 1/3, 1/5, … in two `polynomial`s, so that the last
    /// step adds the small z·Q to 1 with a single rounding. Literal coefficients, so that the
    /// specialised code holds no division.
    @inlinable @inline(__always)
    static func atanhSeries(_ z: Vector) -> Vector {
        let low = polynomial(z, (0.333_333_333_333_333_333, 0.2, 0.142_857_142_857_142_857,  // 1/3, 1/5, 1/7
                                 0.111_111_111_111_111_111, 0.090_909_090_909_090_909,  // 1/9, 1/11
                                 0.076_923_076_923_076_923, 0.066_666_666_666_666_667,  // 1/13, 1/15
                                 0.058_823_529_411_764_706))  // 1/17
        let high = polynomial(z, (0.052_631_578_947_368_421, 0.047_619_047_619_047_619,  // 1/19, 1/21
                                  0.043_478_260_869_565_217, 0.04,  // 1/23, 1/25
                                  0.037_037_037_037_037_037, 0.034_482_758_620_689_655,  // 1/27, 1/29
                                  0.032_258_064_516_129_032, 0.030_303_030_303_030_303))  // 1/31, 1/33
        let z4 = (z * z) * (z * z)
        return multiplyAdd(multiplyAdd(z4 * z4, high, low), z, Vector(repeating: 1))
    }

    /// Σ_{k<8} c_k·z^k by Estrin's scheme: pairs c + c′z, then z² and z⁴, three multiply-adds deep
    /// after z² instead of Horner's seven.
    @inlinable @inline(__always)
    static func polynomial(_ z: Vector, _ c: (Self, Self, Self, Self, Self, Self, Self, Self)) -> Vector {
        @inline(__always) func pair(_ a: Self, _ b: Self) -> Vector { multiplyAdd(z, Vector(repeating: b), Vector(repeating: a)) }
        let z2 = z * z
        let low = multiplyAdd(z2, pair(c.2, c.3), pair(c.0, c.1))
        let high = multiplyAdd(z2, pair(c.6, c.7), pair(c.4, c.5))
        return multiplyAdd(z2 * z2, high, low)
    }
}
