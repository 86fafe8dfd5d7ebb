import CBLASShim

/// What a distance micro-tile does with its 6 × 16 distances.
enum TileUpdate {
    /// Offer each distance to its row's list (query-vs-base, and diagonal tiles of a self search).
    case rows
    /// Offer each distance to its row's list and to its column's list (off-diagonal tiles of a
    /// self search: each unordered pair is computed once and serves both points).
    case rowsAndColumns
    /// Only sum the distances (the benchmark's measure of the distance work alone).
    case distanceOnly
}

/// The inner product of 6 consecutive prepared rows with one 16-point panel, in 12 AVX2
/// registers, followed by the distance epilogue and the SIMD threshold test of the top-k lists.
///
/// Per depth step: two vector loads of the panel, six broadcasts of the rows, twelve fused
/// multiply-adds. The epilogue forms `d = norm_i + norm_j + alpha·dot` and compares sixteen
/// distances at once against the row's current k-th distance (one broadcast) and against the
/// sixteen columns' k-th distances (two vector loads); only the rare lanes that pass go to the
/// scalar insertion. `sink` receives the distances in `.distanceOnly` mode.
@inline(__always)
func distanceMicroTile(
    rows q: UnsafePointer<Float>, depth: Int, panel: UnsafePointer<Float>,
    rowNorms: UnsafePointer<Float>, columnNorms: UnsafePointer<Float>, alpha: Float,
    firstRow: Int, firstColumn: Int, excludeSelf: Bool,
    rowLists: NeighborLists, columnLists: NeighborLists, update: TileUpdate, sink: inout SIMD8<Float>
) {
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
    @inline(__always)
    func distance(_ r: Int, _ dot: V, _ columnNorm: V) -> V {
        Float.multiplyAdd(dot, alphaVector, V(repeating: rowNorms[r]) + columnNorm)
    }
    var d00 = distance(0, c00, n0), d01 = distance(0, c01, n1)
    var d10 = distance(1, c10, n0), d11 = distance(1, c11, n1)
    var d20 = distance(2, c20, n0), d21 = distance(2, c21, n1)
    var d30 = distance(3, c30, n0), d31 = distance(3, c31, n1)
    var d40 = distance(4, c40, n0), d41 = distance(4, c41, n1)
    var d50 = distance(5, c50, n0), d51 = distance(5, c51, n1)
    if update == .distanceOnly {
        sink += ((d00 + d01) + (d10 + d11)) + ((d20 + d21) + (d30 + d31)) + ((d40 + d41) + (d50 + d51))
        return
    }
    if excludeSelf {
        @inline(__always)
        func exclude(_ r: Int, _ d0: inout V, _ d1: inout V) {
            let lane = firstRow + r - firstColumn
            if lane >= 0 && lane < 8 { d0[lane] = .infinity } else if lane >= 8 && lane < 16 { d1[lane - 8] = .infinity }
        }
        exclude(0, &d00, &d01); exclude(1, &d10, &d11); exclude(2, &d20, &d21)
        exclude(3, &d30, &d31); exclude(4, &d40, &d41); exclude(5, &d50, &d51)
    }

    // Row test: the row's 16 distances against its k-th (one min, one compare, one movemask);
    // only a passing row visits its passing lanes.
    @inline(__always)
    func offerToRow(_ r: Int, _ d0: V, _ d1: V) {
        let i = firstRow + r
        let threshold = V(repeating: rowLists.worst[i])
        guard lanesLessEqual(lanewiseMin(d0, d1), threshold) != 0 else { return }
        offerLanes(d0, d1, threshold: threshold, to: rowLists, list: i, firstCandidate: firstColumn)
    }
    offerToRow(0, d00, d01); offerToRow(1, d10, d11); offerToRow(2, d20, d21)
    offerToRow(3, d30, d31); offerToRow(4, d40, d41); offerToRow(5, d50, d51)
    guard update == .rowsAndColumns else { return }

    // Column test: the minimum over the six rows against the sixteen columns' k-th; only when a
    // column passes are the rows offered to the columns one by one.
    let w = columnLists.worst + firstColumn
    let min0 = lanewiseMin(lanewiseMin(lanewiseMin(d00, d10), d20), lanewiseMin(lanewiseMin(d30, d40), d50))
    let min1 = lanewiseMin(lanewiseMin(lanewiseMin(d01, d11), d21), lanewiseMin(lanewiseMin(d31, d41), d51))
    guard (lanesLessEqual(min0, UnsafeRawPointer(w).loadUnaligned(as: V.self))
        | lanesLessEqual(min1, UnsafeRawPointer(w + 8).loadUnaligned(as: V.self))) != 0 else { return }
    @inline(__always)
    func offerToColumns(_ r: Int, _ d0: V, _ d1: V) {
        offerColumnLanes(d0, d1, to: columnLists, firstList: firstColumn, candidate: firstRow + r)
    }
    offerToColumns(0, d00, d01); offerToColumns(1, d10, d11); offerToColumns(2, d20, d21)
    offerToColumns(3, d30, d31); offerToColumns(4, d40, d41); offerToColumns(5, d50, d51)
}

/// The rare path of the row test: offers each of the 16 distances that pass `threshold` to list
/// `list`, as candidates `firstCandidate + lane`. Kept out of line so that the micro-kernel's
/// hot path stays small.
@inline(never)
func offerLanes(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, threshold: SIMD8<Float>, to lists: NeighborLists, list: Int, firstCandidate: Int) {
    var bits = lanesLessEqual(d0, threshold) | lanesLessEqual(d1, threshold) << 8
    while bits != 0 {
        let lane = bits.trailingZeroBitCount
        bits &= bits - 1
        lists.offer(list, lane < 8 ? d0[lane] : d1[lane - 8], Int32(truncatingIfNeeded: firstCandidate + lane))
    }
}

/// The rare path of the column test: offers lane `j`'s distance to list `firstList + j` for each
/// lane that beats that list's threshold, as candidate `candidate`.
@inline(never)
func offerColumnLanes(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, to lists: NeighborLists, firstList: Int, candidate: Int) {
    let w = lists.worst + firstList
    var bits = lanesLessEqual(d0, UnsafeRawPointer(w).loadUnaligned(as: SIMD8<Float>.self))
        | lanesLessEqual(d1, UnsafeRawPointer(w + 8).loadUnaligned(as: SIMD8<Float>.self)) << 8
    while bits != 0 {
        let lane = bits.trailingZeroBitCount
        bits &= bits - 1
        lists.offer(firstList + lane, lane < 8 ? d0[lane] : d1[lane - 8], Int32(truncatingIfNeeded: candidate))
    }
}

/// The lanes where `a ≤ b` as the low 8 bits of an integer (lane 0 in bit 0); NaN lanes never
/// pass. One compare and one movemask (the C shim: Swift has no mask-to-bits operation).
@inline(__always)
func lanesLessEqual(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> UInt32 {
    UInt32(fulcrum_lanes_less_equal_float8(a, b))
}

/// The lane-wise minimum as a compare and blend (`pointwiseMin` is an out-of-line call on the
/// baseline target). Distances here are never NaN: pads and excluded pairs are +∞.
@inline(__always)
func lanewiseMin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    a.replacing(with: b, where: b .< a)
}
