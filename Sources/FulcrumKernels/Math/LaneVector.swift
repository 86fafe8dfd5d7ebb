import CBLASShim

/// A SIMD vector that Fulcrum's vector math runs on: `SIMD16<Float>` (`Float.Vector`, the row
/// kernels), `SIMD8<Float>` (the 8-token tiles of the gating and nearest-neighbour kernels) and
/// `SIMD4<Double>` (`Double.Vector`).
///
/// Each requirement is one C-shim operation per vector type, one or two instructions per register
/// on any target (Swift's generic SIMD mask operations can lose their vectorisation after
/// specialisation, and its `addingProduct` is a per-lane library call without FMA). The vector
/// functions built on them (`Float.exp(_:)`, `Float.log(_:)`, …) are written once, generic over
/// this protocol, so every width runs the same code.
public protocol LaneVector: SIMD & Sendable where Scalar: BinaryFloatingPoint, MaskStorage: Sendable {
    /// Integer lanes of the scalar's width: bit patterns for exponent arithmetic.
    associatedtype Bits: SIMD where Bits.Scalar: FixedWidthInteger & SignedInteger

    /// `a * b + c`, fused when the target has FMA (`-Xswiftc -target-cpu -Xswiftc native`), a
    /// multiply and an add otherwise; in registers either way.
    static func multiplyAdd(_ a: Self, _ b: Self, _ c: Self) -> Self
    /// The lane-wise maximum: `a` where `a > b`, else `b` (so a NaN in `b` wins). One maxps/maxpd.
    static func maximum(_ a: Self, _ b: Self) -> Self
    /// The largest lane, by a shuffle-and-max tree (Swift's `SIMD.max()` is an out-of-line call).
    /// Unspecified which lane wins when one is NaN: probe finiteness separately.
    static func largestLane(_ v: Self) -> Scalar
    /// The sum of the lanes, by halving (log₂ width adds deep; Swift's `T.sumOfLanes(SIMD)` adds the
    /// lanes one after another). The order is fixed, so results are reproducible.
    static func sumOfLanes(_ v: Self) -> Scalar
    /// Lane-wise `a < b ? x : y` (false for NaN lanes). One compare and a blend.
    static func select(where a: Self, isLessThan b: Self, _ x: Self, else y: Self) -> Self
    /// Lane-wise `x` where the sign bit of `a` is set (negative values, −0 and NaNs with the sign
    /// bit), else `y`: one blend on the sign bit, no compare.
    static func select(whereSignOf a: Self, _ x: Self, else y: Self) -> Self
    /// −|v| per lane (the sign bit set; NaN stays NaN): one bitwise or.
    static func negativeMagnitude(_ v: Self) -> Self
    /// y·2ⁿ per lane, or 0 where `x < threshold` (a NaN `x` keeps its lane): the last step of the
    /// vector exponentials. The integer n arrives as `t` = 1.5·2ᵖ + n, as the magic-number
    /// rounding leaves it (p = 23 for Float, 52 for Double); 2ⁿ must be a normal number wherever
    /// x ≥ threshold. For Float vectors on AVX-512, one compare and one masked scale instruction;
    /// elsewhere 2ⁿ from its exponent bits, a multiply and a blend. y·2ⁿ is rounded once either
    /// way, so both give the same result.
    static func scaled(_ y: Self, byPowerOfTwoIn t: Self, zeroWhere x: Self, isLessThan threshold: Self) -> Self
    /// The vector (0, 1, 2, …, scalarCount − 1).
    static var laneIndices: Self { get }
    /// The first `count` elements from `p` (0 ≤ count ≤ scalarCount), the other lanes `padding`:
    /// a row's tail. On AVX-512 one masked load, which reads nothing past them; elsewhere lane by lane.
    init(first count: Int, from p: UnsafePointer<Scalar>, padding: Self)
    /// Stores the first `count` lanes at `p` (0 ≤ count ≤ scalarCount), nothing past them. On
    /// AVX-512 one masked store; elsewhere lane by lane.
    func storeFirst(_ count: Int, to p: UnsafeMutablePointer<Scalar>)
    /// Each integer lane converted to the scalar type.
    init(_ bits: Bits)
}

extension SIMD16: LaneVector where Scalar == Float {
    public typealias Bits = SIMD16<Int32>

    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Self, _ b: Self, _ c: Self) -> Self { fulcrum_multiply_add_float16(a, b, c) }
    @inlinable @inline(__always)
    public static func maximum(_ a: Self, _ b: Self) -> Self { fulcrum_maximum_float16(a, b) }
    @inlinable @inline(__always)
    public static func largestLane(_ v: Self) -> Float { fulcrum_largest_lane_float16(v) }
    @inlinable @inline(__always)
    public static func sumOfLanes(_ v: Self) -> Float { fulcrum_sum_of_lanes_float16(v) }
    @inlinable @inline(__always)
    public static func select(where a: Self, isLessThan b: Self, _ x: Self, else y: Self) -> Self {
        fulcrum_select_less_float16(a, b, x, y)
    }
    @inlinable @inline(__always)
    public static func select(whereSignOf a: Self, _ x: Self, else y: Self) -> Self { fulcrum_select_sign_float16(a, x, y) }
    @inlinable @inline(__always)
    public static func negativeMagnitude(_ v: Self) -> Self { fulcrum_negative_magnitude_float16(v) }
    @inlinable @inline(__always)
    public static func scaled(_ y: Self, byPowerOfTwoIn t: Self, zeroWhere x: Self, isLessThan threshold: Self) -> Self {
        fulcrum_power_of_two_scaled_float16(y, t, x, threshold)
    }
    @inlinable @inline(__always)
    public static var laneIndices: Self { Self(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
    @inlinable @inline(__always)
    public init(first count: Int, from p: UnsafePointer<Scalar>, padding: Self) {
        self = fulcrum_load_first_lanes_float16(p, count, padding)
    }
    @inlinable @inline(__always)
    public func storeFirst(_ count: Int, to p: UnsafeMutablePointer<Scalar>) { fulcrum_store_first_lanes_float16(p, count, self) }
}

extension SIMD8: LaneVector where Scalar == Float {
    public typealias Bits = SIMD8<Int32>

    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Self, _ b: Self, _ c: Self) -> Self { fulcrum_multiply_add_float8(a, b, c) }
    @inlinable @inline(__always)
    public static func maximum(_ a: Self, _ b: Self) -> Self { fulcrum_maximum_float8(a, b) }
    @inlinable @inline(__always)
    public static func largestLane(_ v: Self) -> Float { fulcrum_largest_lane_float8(v) }
    @inlinable @inline(__always)
    public static func sumOfLanes(_ v: Self) -> Float { fulcrum_sum_of_lanes_float8(v) }
    @inlinable @inline(__always)
    public static func select(where a: Self, isLessThan b: Self, _ x: Self, else y: Self) -> Self {
        fulcrum_select_less_float8(a, b, x, y)
    }
    @inlinable @inline(__always)
    public static func select(whereSignOf a: Self, _ x: Self, else y: Self) -> Self { fulcrum_select_sign_float8(a, x, y) }
    @inlinable @inline(__always)
    public static func negativeMagnitude(_ v: Self) -> Self { fulcrum_negative_magnitude_float8(v) }
    @inlinable @inline(__always)
    public static func scaled(_ y: Self, byPowerOfTwoIn t: Self, zeroWhere x: Self, isLessThan threshold: Self) -> Self {
        fulcrum_power_of_two_scaled_float8(y, t, x, threshold)
    }
    @inlinable @inline(__always)
    public static var laneIndices: Self { Self(0, 1, 2, 3, 4, 5, 6, 7) }
    @inlinable @inline(__always)
    public init(first count: Int, from p: UnsafePointer<Scalar>, padding: Self) {
        self = fulcrum_load_first_lanes_float8(p, count, padding)
    }
    @inlinable @inline(__always)
    public func storeFirst(_ count: Int, to p: UnsafeMutablePointer<Scalar>) { fulcrum_store_first_lanes_float8(p, count, self) }
}

extension SIMD4: LaneVector where Scalar == Double {
    public typealias Bits = SIMD4<Int64>

    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Self, _ b: Self, _ c: Self) -> Self { fulcrum_multiply_add_double4(a, b, c) }
    @inlinable @inline(__always)
    public static func maximum(_ a: Self, _ b: Self) -> Self { fulcrum_maximum_double4(a, b) }
    @inlinable @inline(__always)
    public static func largestLane(_ v: Self) -> Double { fulcrum_largest_lane_double4(v) }
    @inlinable @inline(__always)
    public static func sumOfLanes(_ v: Self) -> Double { fulcrum_sum_of_lanes_double4(v) }
    @inlinable @inline(__always)
    public static func select(where a: Self, isLessThan b: Self, _ x: Self, else y: Self) -> Self {
        fulcrum_select_less_double4(a, b, x, y)
    }
    @inlinable @inline(__always)
    public static func select(whereSignOf a: Self, _ x: Self, else y: Self) -> Self { fulcrum_select_sign_double4(a, x, y) }
    @inlinable @inline(__always)
    public static func negativeMagnitude(_ v: Self) -> Self { fulcrum_negative_magnitude_double4(v) }
    @inlinable @inline(__always)
    public static func scaled(_ y: Self, byPowerOfTwoIn t: Self, zeroWhere x: Self, isLessThan threshold: Self) -> Self {
        fulcrum_power_of_two_scaled_double4(y, t, x, threshold)
    }
    @inlinable @inline(__always)
    public static var laneIndices: Self { Self(0, 1, 2, 3) }
    @inlinable @inline(__always)
    public init(first count: Int, from p: UnsafePointer<Scalar>, padding: Self) {
        self = fulcrum_load_first_lanes_double4(p, count, padding)
    }
    @inlinable @inline(__always)
    public func storeFirst(_ count: Int, to p: UnsafeMutablePointer<Scalar>) { fulcrum_store_first_lanes_double4(p, count, self) }
}
