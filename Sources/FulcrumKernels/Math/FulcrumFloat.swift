import CBLASShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The floating-point types Fulcrum's kernels run on: `Float` and `Double`.
///
/// Each type brings the SIMD vector the kernels use (8 × `Float` or 4 × `Double`, one AVX2
/// register), a vector multiply-add that is a fused multiply-add when the build targets a CPU with
/// FMA and a plain multiply and add otherwise (never a per-lane library call), and vector `exp`,
/// `log` and `tanh` whose accuracy the tests check against the system libm.
public protocol FulcrumFloat: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, LosslessStringConvertible
where Vector.Scalar == Self, Vector.MaskStorage: Sendable {
    /// One SIMD register of this type.
    associatedtype Vector: SIMD & Sendable

    /// `a * b + c`, fused when the target has FMA, in registers either way.
    static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector

    /// The lane-wise maximum: `a` where `a > b`, else `b` (so a NaN in `b` wins). One maxps/maxpd.
    static func maximum(_ a: Vector, _ b: Vector) -> Vector

    /// The largest lane of `v`, by a shuffle-and-max tree (Swift's `SIMD.max()` is an
    /// out-of-line call). Unspecified which lane wins when one is NaN: probe finiteness separately.
    static func largestLane(_ v: Vector) -> Self

    /// Lane-wise `a < b ? x : y` (false for NaN lanes). One compare and a blend.
    static func select(where a: Vector, isLessThan b: Vector, _ x: Vector, else y: Vector) -> Vector

    /// Lane-wise `x` where the sign bit of `a` is set (negative values, −0 and NaNs with the sign
    /// bit), else `y`: one blend on the sign bit, no compare.
    static func select(whereSignOf a: Vector, _ x: Vector, else y: Vector) -> Vector

    /// −|v| per lane (the sign bit set; NaN stays NaN): one bitwise or.
    static func negativeMagnitude(_ v: Vector) -> Vector

    /// The vector (0, 1, 2, …, width − 1).
    static var laneIndices: Vector { get }

    /// eˣ per lane; see `Float.exp(_:)` and `Double.exp(_:)` for the error bounds.
    static func exp(_ x: Vector) -> Vector

    /// eˣ per lane for x ≤ 88 (a softmax's shifted scores), flushing results below the smallest
    /// normal number to 0; cheaper than `exp(_:)`.
    static func exponentialOfShift(_ x: Vector) -> Vector

    /// Natural logarithm per lane; `log(0) = −∞`, `log(x < 0) = NaN`.
    static func log(_ x: Vector) -> Vector

    /// eˣ for one value (the system libm).
    static func exp(_ x: Self) -> Self
    /// Natural logarithm of one value (the system libm).
    static func log(_ x: Self) -> Self
    /// log(1 + x), accurate for small x (the system libm).
    static func log1p(_ x: Self) -> Self
    /// eˣ − 1, accurate for small x (the system libm).
    static func expm1(_ x: Self) -> Self
    /// xʸ (the system libm).
    static func pow(_ x: Self, _ y: Self) -> Self
    /// Hyperbolic tangent of one value (the system libm).
    static func tanh(_ x: Self) -> Self
}

extension FulcrumFloat {
    /// Lanes per vector.
    @inlinable @inline(__always)
    public static var vectorWidth: Int { Vector.scalarCount }

    /// The lanes of `v` before lane `k` and after it, the other lanes set to `fill`.
    @inlinable @inline(__always)
    public static func split(_ v: Vector, atLane k: Int, fill: Self) -> (before: Vector, after: Vector) {
        let index = laneIndices, lane = Vector(repeating: Self(k)), other = Vector(repeating: fill)
        return (select(where: index, isLessThan: lane, v, else: other), select(where: lane, isLessThan: index, v, else: other))
    }

    /// `v` on lanes `0 ..< count`, `fill` on the others.
    @inlinable @inline(__always)
    public static func keepingLanes(below count: Int, of v: Vector, fill: Self) -> Vector {
        select(where: laneIndices, isLessThan: Vector(repeating: Self(count)), v, else: Vector(repeating: fill))
    }

    /// tanh per lane as (1 − e^{−2|x|}) / (1 + e^{−2|x|}) with the sign of x: absolute error
    /// within a few ulp of 1, so relative accuracy is lost for |x| ≪ 1 (used by the logit softcap,
    /// where an absolute bound is what matters).
    @inlinable @inline(__always)
    public static func tanh(_ x: Vector) -> Vector {
        let t = exp(negativeMagnitude(x) * 2)
        let y = (1 - t) / (1 + t)
        return select(whereSignOf: x, -y, else: y)
    }
}

extension Float: FulcrumFloat {
    public typealias Vector = SIMD8<Float>

    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector {
        fulcrum_multiply_add_float8(a, b, c)
    }

    @inlinable @inline(__always)
    public static func maximum(_ a: Vector, _ b: Vector) -> Vector { fulcrum_maximum_float8(a, b) }

    @inlinable @inline(__always)
    public static func largestLane(_ v: Vector) -> Float { fulcrum_largest_lane_float8(v) }

    @inlinable @inline(__always)
    public static func select(where a: Vector, isLessThan b: Vector, _ x: Vector, else y: Vector) -> Vector {
        fulcrum_select_less_float8(a, b, x, y)
    }

    @inlinable @inline(__always)
    public static func select(whereSignOf a: Vector, _ x: Vector, else y: Vector) -> Vector {
        fulcrum_select_sign_float8(a, x, y)
    }

    @inlinable @inline(__always)
    public static func negativeMagnitude(_ v: Vector) -> Vector { fulcrum_negative_magnitude_float8(v) }

    @inlinable @inline(__always)
    public static var laneIndices: Vector { Vector(0, 1, 2, 3, 4, 5, 6, 7) }

    @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always) public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable @inline(__always) public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
}

extension Double: FulcrumFloat {
    public typealias Vector = SIMD4<Double>

    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector {
        fulcrum_multiply_add_double4(a, b, c)
    }

    @inlinable @inline(__always)
    public static func maximum(_ a: Vector, _ b: Vector) -> Vector { fulcrum_maximum_double4(a, b) }

    @inlinable @inline(__always)
    public static func largestLane(_ v: Vector) -> Double { fulcrum_largest_lane_double4(v) }

    @inlinable @inline(__always)
    public static func select(where a: Vector, isLessThan b: Vector, _ x: Vector, else y: Vector) -> Vector {
        fulcrum_select_less_double4(a, b, x, y)
    }

    @inlinable @inline(__always)
    public static func select(whereSignOf a: Vector, _ x: Vector, else y: Vector) -> Vector {
        fulcrum_select_sign_double4(a, x, y)
    }

    @inlinable @inline(__always)
    public static func negativeMagnitude(_ v: Vector) -> Vector { fulcrum_negative_magnitude_double4(v) }

    @inlinable @inline(__always)
    public static var laneIndices: Vector { Vector(0, 1, 2, 3) }

    @inlinable @inline(__always) public static func exp(_ x: Double) -> Double { libmExp(x) }
    @inlinable @inline(__always) public static func log(_ x: Double) -> Double { libmLog(x) }
    @inlinable @inline(__always) public static func log1p(_ x: Double) -> Double { libmLog1p(x) }
    @inlinable @inline(__always) public static func expm1(_ x: Double) -> Double { libmExpm1(x) }
    @inlinable @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { libmPow(x, y) }
    @inlinable @inline(__always) public static func tanh(_ x: Double) -> Double { libmTanh(x) }
}

// The C library's Double functions share their names with the protocol requirements, so the
// extension reaches them through these file-level forwarders.
@usableFromInline func libmExp(_ x: Double) -> Double { exp(x) }
@usableFromInline func libmLog(_ x: Double) -> Double { log(x) }
@usableFromInline func libmLog1p(_ x: Double) -> Double { log1p(x) }
@usableFromInline func libmExpm1(_ x: Double) -> Double { expm1(x) }
@usableFromInline func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@usableFromInline func libmTanh(_ x: Double) -> Double { tanh(x) }

/// `true` when this build of Fulcrum was compiled for a CPU with fused multiply-add
/// (`-Xswiftc -target-cpu -Xswiftc native`); the benchmark prints it.
public var fusedMultiplyAddEnabled: Bool { fulcrum_has_fused_multiply_add() != 0 }
