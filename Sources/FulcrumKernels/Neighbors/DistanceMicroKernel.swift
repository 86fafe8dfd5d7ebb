import CBLASShim

/// What a tiled search does with each tile of distances.
enum TileUpdate {
    /// Offer the distances to the lists: to the rows' lists, and in an off-diagonal tile of a
    /// self search also to the columns' lists (each unordered pair is computed once and serves
    /// both points).
    case select
    /// Only compute the distances (the benchmark's measure of the distance work alone).
    case distanceOnly
}

/// The distances of 6 consecutive prepared rows to one 16-point panel, in 12 AVX2 registers,
/// stored as 6 rows of 16 Floats at `target` (row `r` at `target + r · rowStride`).
///
/// Per depth step: two vector loads of the panel, six broadcasts of the rows, twelve fused
/// multiply-adds; the depth loop carries no branches, calls or spills. The epilogue forms
/// `d = norm_i + norm_j + alpha·dot`, stores it and, given `rowLimits` (the 6 rows' list
/// thresholds), screens the block while it is still in registers: it returns whether any
/// distance is at most its row's threshold or its column's (`columnLimits`, 16 thresholds, or
/// none). Only then need the block reach the scalar insertion; a block that fails is done.
/// Without `rowLimits` it returns false.
@inline(__always)
func distanceMicroTile(
    rows q: UnsafePointer<Float>, depth: Int, panel: UnsafePointer<Float>,
    rowNorms: UnsafePointer<Float>, columnNorms: UnsafePointer<Float>, alpha: Float,
    into target: UnsafeMutablePointer<Float>, rowStride: Int,
    rowLimits: UnsafePointer<Float>?, columnLimits: UnsafePointer<Float>?
) -> Bool {
    typealias V = SIMD8<Float>
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    let (q0, q1, q2) = (q, q + depth, q + 2 * depth)
    let (q3, q4, q5) = (q + 3 * depth, q + 4 * depth, q + 5 * depth)
    var p = panel
    for c in 0..<depth {
        let b0 = UnsafeRawPointer(p).loadUnaligned(as: V.self)
        let b1 = UnsafeRawPointer(p + 8).loadUnaligned(as: V.self)
        p += 16
        var a = V(repeating: q0[c])
        c00 = Float.multiplyAdd(a, b0, c00); c01 = Float.multiplyAdd(a, b1, c01)
        a = V(repeating: q1[c])
        c10 = Float.multiplyAdd(a, b0, c10); c11 = Float.multiplyAdd(a, b1, c11)
        a = V(repeating: q2[c])
        c20 = Float.multiplyAdd(a, b0, c20); c21 = Float.multiplyAdd(a, b1, c21)
        a = V(repeating: q3[c])
        c30 = Float.multiplyAdd(a, b0, c30); c31 = Float.multiplyAdd(a, b1, c31)
        a = V(repeating: q4[c])
        c40 = Float.multiplyAdd(a, b0, c40); c41 = Float.multiplyAdd(a, b1, c41)
        a = V(repeating: q5[c])
        c50 = Float.multiplyAdd(a, b0, c50); c51 = Float.multiplyAdd(a, b1, c51)
    }
    let n0 = UnsafeRawPointer(columnNorms).loadUnaligned(as: V.self)
    let n1 = UnsafeRawPointer(columnNorms + 8).loadUnaligned(as: V.self)
    let alphaVector = V(repeating: alpha)
    let none = V(repeating: -.infinity)
    let w0 = columnLimits.map { UnsafeRawPointer($0).loadUnaligned(as: V.self) } ?? none
    let w1 = columnLimits.map { UnsafeRawPointer($0 + 8).loadUnaligned(as: V.self) } ?? none
    var hits: UInt32 = 0
    @inline(__always)
    func store(_ r: Int, _ dot0: V, _ dot1: V) {
        let rowNorm = V(repeating: rowNorms[r])
        let d0 = Float.multiplyAdd(dot0, alphaVector, rowNorm + n0)
        let d1 = Float.multiplyAdd(dot1, alphaVector, rowNorm + n1)
        let out = UnsafeMutableRawPointer(target + r * rowStride)
        out.storeBytes(of: d0, as: V.self)
        out.storeBytes(of: d1, toByteOffset: 32, as: V.self)
        if let rowLimits {
            let limit = V(repeating: rowLimits[r])
            hits |= lanesLessEqual(d0, Float.maximum(limit, w0)) | lanesLessEqual(d1, Float.maximum(limit, w1))
        }
    }
    store(0, c00, c01); store(1, c10, c11); store(2, c20, c21)
    store(3, c30, c31); store(4, c40, c41); store(5, c50, c51)
    return hits != 0
}

/// The lanes where `a ≤ b` as the low 8 bits of an integer (lane 0 in bit 0); NaN lanes never
/// pass. One compare and one movemask (the C shim: Swift has no mask-to-bits operation).
@inline(__always)
func lanesLessEqual(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> UInt32 {
    UInt32(fulcrum_lanes_less_equal_float8(a, b))
}
