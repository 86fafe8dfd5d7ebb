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
    func finish(_ r: Int, _ dot0: V, _ dot1: V) {
        let rowNorm = V(repeating: rowNorms[r])
        var d0 = Float.multiplyAdd(dot0, alphaVector, rowNorm + n0)
        var d1 = Float.multiplyAdd(dot1, alphaVector, rowNorm + n1)
        if update == .distanceOnly {
            sink += d0 + d1
            return
        }
        let i = firstRow + r
        if excludeSelf {
            let lane = i - firstColumn
            if lane >= 0 && lane < 8 { d0[lane] = .nan } else if lane >= 8 && lane < 16 { d1[lane - 8] = .nan }
        }
        let threshold = V(repeating: rowLists.worst[i])
        if any((d0 .<= threshold) .| (d1 .<= threshold)) {
            for lane in 0..<16 {
                let d = lane < 8 ? d0[lane] : d1[lane - 8]
                if d <= rowLists.worst[i] { rowLists.offer(i, d, Int32(truncatingIfNeeded: firstColumn + lane)) }
            }
        }
        if update == .rowsAndColumns {
            let w = columnLists.worst + firstColumn
            let w0 = UnsafeRawPointer(w).loadUnaligned(as: V.self)
            let w1 = UnsafeRawPointer(w + 8).loadUnaligned(as: V.self)
            if any((d0 .<= w0) .| (d1 .<= w1)) {
                for lane in 0..<16 {
                    let d = lane < 8 ? d0[lane] : d1[lane - 8]
                    if d <= w[lane] { columnLists.offer(firstColumn + lane, d, Int32(truncatingIfNeeded: i)) }
                }
            }
        }
    }
    finish(0, c00, c01)
    finish(1, c10, c11)
    finish(2, c20, c21)
    finish(3, c30, c31)
    finish(4, c40, c41)
    finish(5, c50, c51)
}
