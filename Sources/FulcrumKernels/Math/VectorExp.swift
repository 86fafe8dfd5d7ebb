// Vector exponentials for Float and Double.
//
// Both follow the same scheme: x is clamped to a range beyond which the result is 0 or +∞, the
// exponent n = round(x·log₂e) is found with the 1.5·2^p magic-number rounding (branch-free and
// fast on the baseline x86-64 target), r = x − n·ln 2 is reduced with a two-part (Cody–Waite)
// ln 2, eʳ is a polynomial on |r| ≤ ln2/2, and the result is scaled by 2ⁿ as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋),
// two exact power-of-two factors, so that overflow to +∞ and gradual underflow into the
// subnormals happen with a single rounding in the last multiply. NaN propagates.

extension Float {
    /// The magic number 1.5·2²³ of the exponent rounding: t = x·log₂e + magic holds k = round(x·log₂e)
    /// in its low mantissa bits.
    @inlinable static var exponentMagic: Float { 12_582_912 }

    /// eʳ on the reduced argument and t = 1.5·2²³ + k with eˣ = eʳ·2ᵏ (valid for |x| < 2²¹; callers
    /// clamp): magic-number rounding of x·log₂e, two-part ln 2, and eʳ ≈ 1 + r + r²·P(r) with a
    /// degree-4 minimax P.
    @inlinable @inline(__always)
    static func reducedExponential<V: LaneVector>(_ x: V) -> (y: V, t: V) where V.Scalar == Float {
        let magic = V(repeating: exponentMagic)
        let t = multiplyAdd(x, V(repeating: 1.442_695_04), magic)
        let n = t - magic
        var r = multiplyAdd(n, V(repeating: -0.693_359_375), x)
        r = multiplyAdd(n, V(repeating: 2.121_944_4e-4), r)
        // P(r) = c₀ + c₁r + … + c₄r⁴, a minimax fit of (eʳ − 1 − r)/r² on |r| ≤ ln2/2 whose own
        // error is 0.05 ulp, by Estrin's scheme: (c₀ + c₁r) + r²·((c₂ + c₃r) + r²·c₄). With the
        // last step that is 5 multiply-adds and one multiply, as many as Horner's rule, but 3
        // multiply-adds deep after r² instead of 5: short rows and the sigmoid losses, whose
        // loops wait on this chain, run 3–5% faster. Every Float in [−87.33, 0] and in [0, 88.72]
        // is within 1.27 ulp of the exact eˣ (all were checked once against the Double exp; the
        // tests sweep densely against a 2-ulp bound).
        let r2 = r * r
        let low = multiplyAdd(V(repeating: 1.666_652_1e-1), r, V(repeating: 4.999_999_4e-1))
        let high = multiplyAdd(V(repeating: 8.368_745_4e-3), r, V(repeating: 4.166_838_9e-2))
        let p = multiplyAdd(multiplyAdd(V(repeating: 1.381_453_9e-3), r2, high), r2, low)
        // 1 + r is formed beside the polynomial, off its dependency chain.
        let y = multiplyAdd(p, r2, r + 1)
        return (y, t)
    }

    /// eˣ per lane. Within 2 ulp of the correctly rounded result on [−104, 89] (subnormal results
    /// included; the test sweeps that range densely against the system libm), exactly 0 below the
    /// underflow threshold (x < −103.98) and +∞ above overflow (x > 88.73); NaN stays NaN.
    ///
    /// Cost: 5 multiply-adds and 1 multiply for the polynomial plus the range reduction,
    /// about 20 instructions per vector, no table and no division.
    @inlinable @inline(__always)
    public static func exp<V: LaneVector>(_ x: V) -> V where V.Scalar == Float {
        let (low, high) = (V(repeating: -110), V(repeating: 100))
        let x = select(where: high, isLessThan: x, high, else: select(where: x, isLessThan: low, low, else: x))
        let (y, t) = reducedExponential(x)
        let k = unsafeBitCast(t, to: V.Bits.self) &- unsafeBitCast(V(repeating: exponentMagic), to: V.Bits.self)
        let half = k &>> 1
        let scaleA = unsafeBitCast((half &+ 127) &<< 23, to: V.self)
        let scaleB = unsafeBitCast((k &- half &+ 127) &<< 23, to: V.self)
        return y * scaleA * scaleB
    }

    /// eˣ per lane for the shifted scores of a softmax (x = z − max z ≤ 0, or z − c ≤ 64 for a
    /// shift c below the maximum): within 2 ulp of the correctly rounded result down to the
    /// smallest normal number (x ≥ −87.33), and 0 below it (those terms are below 2⁻¹²⁶ of the
    /// row's largest, far under a Float sum's resolution), for any x ≤ 88. NaN stays NaN. One
    /// scale factor instead of two and no overflow clamp: about a fifth fewer instructions than
    /// `exp(_:)`. On AVX-512 the scaling and the zeroing below −87.33 are one compare and one
    /// masked vscalefps (`LaneVector.scaled`), with the same results.
    @inlinable @inline(__always)
    public static func exponentialOfShift<V: LaneVector>(_ x: V) -> V where V.Scalar == Float {
        let (y, t) = reducedExponential(x)
        return V.scaled(y, byPowerOfTwoIn: t, zeroWhere: x, isLessThan: V(repeating: -87.33))
    }
}

extension Double {
    /// eˣ per lane. Within 2 ulp of the correctly rounded result on [−745, 709] (checked against
    /// the system libm), exactly 0 below underflow and +∞ above overflow; NaN stays NaN.
    ///
    /// Cost: a degree-13 Taylor polynomial (its truncation error is below 10⁻¹⁷ on |r| ≤ ln2/2)
    /// plus the range reduction, no table and no division.
    @inlinable @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        let (low, high) = (Vector(repeating: -760), Vector(repeating: 720))
        let x = select(where: high, isLessThan: x, high, else: select(where: x, isLessThan: low, low, else: x))
        let (p, t) = reducedExponential(x)
        let k = unsafeBitCast(t, to: SIMD4<Int64>.self) &- unsafeBitCast(Vector(repeating: exponentMagic), to: SIMD4<Int64>.self)
        let half = k &>> 1
        let scaleA = unsafeBitCast((half &+ 1023) &<< 52, to: Vector.self)
        let scaleB = unsafeBitCast((k &- half &+ 1023) &<< 52, to: Vector.self)
        return p * scaleA * scaleB
    }

    /// The magic number 1.5·2⁵² of the exponent rounding (see `Float.exponentMagic`).
    @inlinable static var exponentMagic: Double { 6_755_399_441_055_744 }

    /// eʳ on the reduced argument and t = 1.5·2⁵² + k with eˣ = eʳ·2ᵏ (valid for |x| < 2⁵⁰;
    /// callers clamp or mask): magic-number rounding of x·log₂e, two-part ln 2, and a degree-13
    /// Taylor polynomial.
    @inlinable @inline(__always)
    static func reducedExponential(_ x: Vector) -> (y: Vector, t: Vector) {
        let magic = Vector(repeating: exponentMagic)
        let t = multiplyAdd(x, Vector(repeating: 1.442_695_040_888_963_4), magic)
        let n = t - magic
        var r = multiplyAdd(n, Vector(repeating: -6.931_457_519_531_25e-1), x)
        r = multiplyAdd(n, Vector(repeating: -1.428_606_820_309_417_232_12e-6), r)
        // Horner on 1/k!, k = 13 … 0.
        var p = Vector(repeating: 1.6059043836821613e-10)
        p = multiplyAdd(p, r, Vector(repeating: 2.08767569878681e-09))
        p = multiplyAdd(p, r, Vector(repeating: 2.505210838544172e-08))
        p = multiplyAdd(p, r, Vector(repeating: 2.755731922398589e-07))
        p = multiplyAdd(p, r, Vector(repeating: 2.7557319223985893e-06))
        p = multiplyAdd(p, r, Vector(repeating: 2.48015873015873e-05))
        p = multiplyAdd(p, r, Vector(repeating: 1.984126984126984e-04))
        p = multiplyAdd(p, r, Vector(repeating: 1.388888888888889e-03))
        p = multiplyAdd(p, r, Vector(repeating: 8.333333333333333e-03))
        p = multiplyAdd(p, r, Vector(repeating: 4.1666666666666664e-02))
        p = multiplyAdd(p, r, Vector(repeating: 1.6666666666666666e-01))
        p = multiplyAdd(p, r, Vector(repeating: 0.5))
        p = multiplyAdd(p, r, Vector(repeating: 1.0))
        p = multiplyAdd(p, r, Vector(repeating: 1.0))
        return (p, t)
    }

    /// eˣ per lane for the shifted scores of a softmax (x ≤ 0): within 2 ulp down to the smallest
    /// normal number (x ≥ −708.39), 0 below it; NaN stays NaN. As `Float.exponentialOfShift(_:)`:
    /// one scale factor and no clamp, the lanes below −708.39 (−∞ among them) masked to 0
    /// whatever the reduction made of them.
    @inlinable @inline(__always)
    public static func exponentialOfShift(_ x: Vector) -> Vector {
        let (y, t) = reducedExponential(x)
        return Vector.scaled(y, byPowerOfTwoIn: t, zeroWhere: x, isLessThan: Vector(repeating: -708.39))
    }
}
