import CBLASShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The floating-point types Fulcrum's kernels run on: `Float` and `Double`.
///
/// Each type brings the SIMD vector the row kernels use (16 × `Float`: one AVX-512 register or two
/// AVX2 ones, so that a loop's work takes half the out-of-order window entries of 8 lanes on
/// AVX-512 and is unrolled twice on AVX2; 4 × `Double`), the lane operations of `LaneVector`, and
/// vector `exp` and `log` whose accuracy the tests check against the system libm.
public protocol FulcrumFloat: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, LosslessStringConvertible
where Vector.Scalar == Self {
    /// The SIMD vector of this type that the row kernels use.
    associatedtype Vector: LaneVector

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

// The lane operations of `LaneVector` as static functions of the scalar type, generic over the
// vector width: `T.multiplyAdd(a, b, c)` reads like the scalar code it replaces.
extension FulcrumFloat {
    /// `a * b + c` per lane; see `LaneVector.multiplyAdd(_:_:_:)`.
    @inlinable @inline(__always)
    public static func multiplyAdd<V: LaneVector>(_ a: V, _ b: V, _ c: V) -> V where V.Scalar == Self { V.multiplyAdd(a, b, c) }

    /// The lane-wise maximum; see `LaneVector.maximum(_:_:)`.
    @inlinable @inline(__always)
    public static func maximum<V: LaneVector>(_ a: V, _ b: V) -> V where V.Scalar == Self { V.maximum(a, b) }

    /// The largest lane; see `LaneVector.largestLane(_:)`.
    @inlinable @inline(__always)
    public static func largestLane<V: LaneVector>(_ v: V) -> Self where V.Scalar == Self { V.largestLane(v) }

    /// The sum of the lanes; see `LaneVector.sumOfLanes(_:)`.
    @inlinable @inline(__always)
    public static func sumOfLanes<V: LaneVector>(_ v: V) -> Self where V.Scalar == Self { V.sumOfLanes(v) }

    /// Lane-wise `a < b ? x : y`; see `LaneVector.select(where:isLessThan:_:else:)`.
    @inlinable @inline(__always)
    public static func select<V: LaneVector>(where a: V, isLessThan b: V, _ x: V, else y: V) -> V where V.Scalar == Self {
        V.select(where: a, isLessThan: b, x, else: y)
    }

    /// Lane-wise `x` where the sign bit of `a` is set, else `y`; see `LaneVector.select(whereSignOf:_:else:)`.
    @inlinable @inline(__always)
    public static func select<V: LaneVector>(whereSignOf a: V, _ x: V, else y: V) -> V where V.Scalar == Self {
        V.select(whereSignOf: a, x, else: y)
    }

    /// −|v| per lane; see `LaneVector.negativeMagnitude(_:)`.
    @inlinable @inline(__always)
    public static func negativeMagnitude<V: LaneVector>(_ v: V) -> V where V.Scalar == Self { V.negativeMagnitude(v) }

    /// The row vector (0, 1, 2, …, vectorWidth − 1).
    @inlinable @inline(__always)
    public static var laneIndices: Vector { Vector.laneIndices }
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
    public typealias Vector = SIMD16<Float>

    @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always) public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable @inline(__always) public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
}

extension Double: FulcrumFloat {
    public typealias Vector = SIMD4<Double>

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
