import CBLASShim

/// Up to 8 consecutive token rows held transposed, one token per SIMD lane: vector e (floats
/// 8e ..< 8e + 8) holds column e of the 8 rows. The gating kernel's tile passes work on these
/// vectors, one expert at a time, with no per-token reduction.
///
/// Blocks of 8 whole rows × 8 columns move with one in-register 8×8 transpose; the others go
/// through an 8×8 staging block, row by row. A tile of fewer than 8 rows repeats its last row in
/// the spare lanes on the way in, and writes only its own rows on the way out.
struct TokenTile {
    /// Tokens per tile: the lanes of a vector.
    static let lanes = 8

    let columnCount: Int
    /// The transposed columns, vector e at [8e ..< 8e + 8], padded to a whole number of blocks.
    let columns: UnsafeMutablePointer<Float>
    let staging: UnsafeMutablePointer<Float>

    /// A tile for rows of `columnCount` columns; release it with `deallocate()`.
    init(columnCount: Int) {
        self.columnCount = columnCount
        let padded = (columnCount + 7) & ~7
        columns = .allocate(capacity: padded * Self.lanes)
        staging = .allocate(capacity: Self.lanes * Self.lanes)
    }

    func deallocate() {
        columns.deallocate()
        staging.deallocate()
    }

    /// The first of `rows` (the tile's, lane r for row lowerBound + r) whose finiteness check
    /// x₀·0 + x₁·0 + … is not 0 (a NaN: the row holds a NaN or ±∞), or nil.
    @inline(__always)
    static func firstNonFinite(_ check: SIMD8<Float>, rows: Range<Int>) -> Int? {
        let finite = fulcrum_lanes_less_equal_float8(check, SIMD8()) & fulcrum_lanes_less_equal_float8(SIMD8(), check)
        let bad = ~finite & ((1 << UInt32(rows.count)) &- 1)
        return bad == 0 ? nil : rows.lowerBound &+ bad.trailingZeroBitCount
    }

    /// Column e of the tile's rows, one token per lane.
    @inline(__always)
    func column(_ e: Int) -> SIMD8<Float> { UnsafePointer(columns).loadVector(at: 8 &* e, as: SIMD8<Float>.self) }

    @inline(__always)
    func setColumn(_ e: Int, _ v: SIMD8<Float>) { columns.storeVector(v, at: 8 &* e) }

    /// Replaces the columns two at a time, x by `pair(e, x)` for columns e and e + 1 as one
    /// 16-lane vector (they are adjacent): on AVX-512 that is one register, so the arithmetic
    /// takes half the instructions of two 8-lane vectors. An odd last column e goes to
    /// `single(e, x)`.
    @inline(__always)
    func updateColumns(pair: (Int, SIMD16<Float>) -> SIMD16<Float>, single: (Int, SIMD8<Float>) -> SIMD8<Float>) {
        var e = 0
        while e &+ 2 <= columnCount {
            columns.storeVector(pair(e, UnsafePointer(columns).loadVector(at: 8 &* e, as: SIMD16<Float>.self)), at: 8 &* e)
            e &+= 2
        }
        if e < columnCount { setColumn(e, single(e, column(e))) }
    }

    /// Loads rows `rows` (1…8) of `matrix` transposed, and prefetches the rows two tiles ahead
    /// (a hint; it never faults, past the last row too).
    @inline(__always)
    func load(_ matrix: MatrixView<Float>, rows: Range<Int>) {
        let first = matrix.row(rows.lowerBound), stride = matrix.rowStride
        var j = 0
        while j < columnCount {
            let width = min(8, columnCount &- j)
            if j & 15 == 0 {
                for r in 2 &* Self.lanes ..< 3 &* Self.lanes { first.prefetch(at: r &* stride &+ j) }
            }
            if rows.count == Self.lanes && width == 8 {
                fulcrum_transpose_float8x8(first + j, stride, columns + 8 &* j, 8)
            } else {
                for r in 0..<Self.lanes {
                    let row = first + min(r, rows.count &- 1) &* stride
                    staging.storeVector(row.loadVector(at: j, count: width, padding: 0, as: SIMD8<Float>.self), at: 8 &* r)
                }
                fulcrum_transpose_float8x8(staging, 8, columns + 8 &* j, 8)
            }
            j &+= 8
        }
    }

    /// Stores the tile transposed back into rows `rows` (1…8) of `matrix`, and prefetches the
    /// rows two tiles ahead for writing (a hint, as in `load`).
    @inline(__always)
    func store(into matrix: MutableMatrixView<Float>, rows: Range<Int>) {
        let first = matrix.row(rows.lowerBound), stride = matrix.rowStride
        var j = 0
        while j < columnCount {
            let width = min(8, columnCount &- j)
            if j & 15 == 0 {
                for r in 2 &* Self.lanes ..< 3 &* Self.lanes { first.prefetchForWriting(at: r &* stride &+ j) }
            }
            if rows.count == Self.lanes && width == 8 {
                fulcrum_transpose_float8x8(columns + 8 &* j, 8, first + j, stride)
            } else {
                fulcrum_transpose_float8x8(columns + 8 &* j, 8, staging, 8)
                for r in 0..<rows.count {
                    (first + r &* stride).storeVector(UnsafePointer(staging).loadVector(at: 8 &* r, as: SIMD8<Float>.self), at: j, count: width)
                }
            }
            j &+= 8
        }
    }
}
