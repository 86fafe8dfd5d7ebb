// Vector natural logarithms for Float and Double.
//
// Both reduce x = 2ᵏ·m with m in [√½, √2) by integer arithmetic on the bit pattern (subnormals
// are first scaled into the normal range), write f = m − 1, s = f/(2 + f), and use
// log m = f − f²/2 + s·(f²/2 + R(s²)) with the minimax R of the FreeBSD/musl logarithms, then
// add k·ln 2 in two parts. Special values follow IEEE 754: log(±0) = −∞, log(x < 0) = NaN,
// log(+∞) = +∞, NaN stays NaN.

extension Float {
    /// Natural logarithm per lane, within 2 ulp of the correctly rounded result for every positive
    /// Float (checked against the system libm over a dense sweep including subnormals).
    @inlinable @inline(__always)
    public static func log<V: LaneVector>(_ x: V) -> V where V.Scalar == Float {
        let tiny = V(repeating: Float.leastNormalMagnitude)
        let scaled = select(where: x, isLessThan: tiny, x * 33_554_432, else: x)  // 2²⁵
        var bits = unsafeBitCast(scaled, to: V.Bits.self) &+ (0x3F80_0000 - 0x3F35_04F3)
        let k = (bits &>> 23) &- 0x7F
        bits = (bits & 0x007F_FFFF) &+ 0x3F35_04F3
        let f = unsafeBitCast(bits, to: V.self) - 1
        let s = f / (f + 2)
        let z = s * s
        let w = z * z
        let t1 = w * multiplyAdd(w, V(repeating: 0.242_790_788_41), V(repeating: 0.400_009_721_52))
        let t2 = z * multiplyAdd(w, V(repeating: 0.284_987_866_88), V(repeating: 0.666_666_626_93))
        let halfSquare = f * f * 0.5
        let dk = select(where: x, isLessThan: tiny, V(k) - 25, else: V(k))
        var y = multiplyAdd(s, halfSquare + t1 + t2, dk * 9.058_000_614_5e-6) - halfSquare + f
        y = multiplyAdd(dk, V(repeating: 0.693_138_122_56), y)
        return logSpecialValues(x, y)
    }
}

extension Double {
    /// Natural logarithm per lane, within 2 ulp of the correctly rounded result for every positive
    /// Double (checked against the system libm).
    @inlinable @inline(__always)
    public static func log(_ x: Vector) -> Vector {
        let subnormal = x .< Double.leastNormalMagnitude
        let scaled = x.replacing(with: x * 18_014_398_509_481_984, where: subnormal)  // 2⁵⁴
        var bits = unsafeBitCast(scaled, to: SIMD4<Int64>.self) &+ (0x3FF0_0000_0000_0000 - 0x3FE6_A09E_667F_3BCD)
        var k = (bits &>> 52) &- 0x3FF
        k.replace(with: k &- 54, where: subnormal)
        bits = (bits & 0x000F_FFFF_FFFF_FFFF) &+ 0x3FE6_A09E_667F_3BCD
        let f = unsafeBitCast(bits, to: Vector.self) - 1
        let s = f / (f + 2)
        let z = s * s
        let w = z * z
        var odd = multiplyAdd(w, Vector(repeating: 1.531_383_769_920_937_332e-01), Vector(repeating: 2.222_219_843_214_978_396e-01))
        odd = multiplyAdd(odd, w, Vector(repeating: 3.999_999_999_940_941_908e-01))
        var even = multiplyAdd(w, Vector(repeating: 1.479_819_860_511_658_591e-01), Vector(repeating: 1.818_357_216_161_805_012e-01))
        even = multiplyAdd(even, w, Vector(repeating: 2.857_142_874_366_239_149e-01))
        even = multiplyAdd(even, w, Vector(repeating: 6.666_666_666_666_735_130e-01))
        let r = w * odd + z * even
        let halfSquare = f * f * 0.5
        let dk = Vector(k)
        var y = multiplyAdd(s, halfSquare + r, dk * 1.908_214_929_270_587_700_02e-10) - halfSquare + f
        y = multiplyAdd(dk, Vector(repeating: 6.931_471_803_691_238_164_90e-01), y)
        return logSpecialValues(x, y)
    }
}

extension FulcrumFloat {
    /// Patches the special values of log into the polynomial result `y` of `x`, with the
    /// compare-and-blend `select` (generic SIMD mask operations compile to per-lane loops here).
    @inlinable @inline(__always)
    static func logSpecialValues<V: LaneVector>(_ x: V, _ y: V) -> V where V.Scalar == Self {
        let zero = V()
        // +∞ and NaN give x itself; finite x keeps y.
        let large = select(where: x, isLessThan: V(repeating: .infinity), y, else: x)
        // ±0 give −∞, x < 0 gives NaN, and NaN stays NaN (−∞ + (x − x)).
        let nonPositive = select(where: x, isLessThan: zero, V(repeating: .nan),
                                 else: V(repeating: -.infinity) + (x - x))
        return select(where: zero, isLessThan: x, large, else: nonPositive)
    }
}

extension Double {
    /// log(1 + x) per lane for x > −1, in registers: Goldberg's form log(u)·x/(u − 1) with
    /// u = 1 + x (x itself where u rounds to 1) corrects the rounding of u, so small x keeps its
    /// relative accuracy; the logarithm is the vector `log(_:)`. Within 4 ulp of the correctly
    /// rounded result (tested against libm). +∞ gives NaN: callers pass finite x.
    @inlinable @inline(__always)
    public static func logOnePlus(_ x: Vector) -> Vector {
        let u = 1 + x
        let d = u - 1  // 0, or at least 2⁻⁵³ in magnitude: d² does not underflow
        return select(where: Vector(), isLessThan: d * d, log(u) * (x / d), else: x)
    }

    /// log(1 + x) for one x > −1 (`logOnePlus` on one lane): no library call, and so no vector
    /// registers saved and restored around one, in the row kernels that need it once per row.
    @inlinable @inline(__always)
    public static func logOnePlus(_ x: Double) -> Double { logOnePlus(Vector(repeating: x))[0] }
}
