/// One tile of distances, up to `NeighborSearch.tileRows` rows × `tileRows` columns, and the
/// top-k selection passes over it.
///
/// Layout: panel-major, `values[(panel · tileRows + row) · 16 + lane]` for column
/// `panel · 16 + lane`, so that each 6 × 16 micro-tile is one contiguous block and each row of a
/// panel is two vectors. The tile stays in L1/L2 between the distance pass and the selection
/// passes.
///
/// Selection tests sixteen distances with one vector compare against the list thresholds; a
/// row first compares the minimum of its whole tile row, so that most rows are rejected with one
/// compare. Only passing lanes reach the scalar insertion (`NeighborLists.offer`).
struct DistanceTile {
    let values: UnsafeMutablePointer<Float>
    static let side = NeighborSearch.tileRows

    /// Runs `body` with a fresh tile (one allocation per call).
    static func with<R>(_ body: (DistanceTile) -> R) -> R {
        let values = UnsafeMutablePointer<Float>.allocate(capacity: side * side)
        defer { values.deallocate() }
        return body(DistanceTile(values: values))
    }

    /// Computes the distances of prepared rows `rowRange` (of `rows`) to panel points
    /// `columnRange` (of `panels`). Both ranges are multiples of 48 long and start at multiples
    /// of 48 (see `PreparedPoints.padding`).
    @inline(__always)
    func compute(
        rows: UnsafePointer<Float>, rowNorms: UnsafePointer<Float>, rowRange: Range<Int>,
        panels: UnsafePointer<Float>, columnNorms: UnsafePointer<Float>, columnRange: Range<Int>,
        depth: Int, alpha: Float
    ) {
        let side = Self.side
        for (p, firstColumn) in stride(from: columnRange.lowerBound, to: columnRange.upperBound, by: 16).enumerated() {
            let panel = panels + firstColumn * depth
            let target = values + p * side * 16
            for firstRow in stride(from: rowRange.lowerBound, to: rowRange.upperBound, by: 6) {
                distanceMicroTile(
                    rows: rows + firstRow * depth, depth: depth, panel: panel,
                    rowNorms: rowNorms + firstRow, columnNorms: columnNorms + firstColumn, alpha: alpha,
                    into: target + (firstRow - rowRange.lowerBound) * 16, rowStride: 16)
            }
        }
    }

    /// Sets the distance of each point to itself to +∞ (a diagonal tile of a self search: row
    /// `r` and column `r` are the same point), so that no list ever receives its own point.
    func excludeDiagonal(count: Int) {
        for r in 0..<count { values[((r / 16) * Self.side + r) * 16 + r % 16] = .infinity }
    }

    /// Offers each row's distances to its list: row `r` is list `firstRow + r`, column `c` is
    /// candidate `firstColumn + c`.
    func offerToRows(_ lists: NeighborLists, firstRow: Int, rowCount: Int, firstColumn: Int, columnCount: Int) {
        typealias V = SIMD8<Float>
        let (side, panels) = (Self.side, columnCount / 16)
        for r in 0..<rowCount {
            let i = firstRow + r
            var threshold = V(repeating: lists.worst[i])
            let row = UnsafeRawPointer(values + r * 16)
            var smallest = V(repeating: .infinity)
            for p in 0..<panels {
                let offset = p * side * 64
                smallest = lanewiseMin(smallest, lanewiseMin(
                    row.loadUnaligned(fromByteOffset: offset, as: V.self), row.loadUnaligned(fromByteOffset: offset + 32, as: V.self)))
            }
            guard lanesLessEqual(smallest, threshold) != 0 else { continue }
            for p in 0..<panels {
                let offset = p * side * 64
                let d0 = row.loadUnaligned(fromByteOffset: offset, as: V.self)
                let d1 = row.loadUnaligned(fromByteOffset: offset + 32, as: V.self)
                var bits = lanesLessEqual(d0, threshold) | lanesLessEqual(d1, threshold) << 8
                guard bits != 0 else { continue }
                let distances = values + p * side * 16 + r * 16
                while bits != 0 {
                    let lane = bits.trailingZeroBitCount
                    bits &= bits - 1
                    lists.offer(i, distances[lane], Int32(truncatingIfNeeded: firstColumn + p * 16 + lane))
                }
                threshold = V(repeating: lists.worst[i])
            }
        }
    }

    /// Offers each column's distances to its list: column `c` is list `firstColumn + c`, row `r`
    /// is candidate `firstRow + r`. Sixteen column thresholds stay in two registers while the
    /// rows stream past.
    func offerToColumns(_ lists: NeighborLists, firstRow: Int, rowCount: Int, firstColumn: Int, columnCount: Int) {
        typealias V = SIMD8<Float>
        for p in 0..<(columnCount / 16) {
            let w = UnsafeRawPointer(lists.worst + firstColumn + p * 16)
            var w0 = w.loadUnaligned(as: V.self), w1 = w.loadUnaligned(fromByteOffset: 32, as: V.self)
            let panel = values + p * Self.side * 16
            for r in 0..<rowCount {
                let distances = panel + r * 16
                let row = UnsafeRawPointer(distances)
                var bits = lanesLessEqual(row.loadUnaligned(as: V.self), w0)
                    | lanesLessEqual(row.loadUnaligned(fromByteOffset: 32, as: V.self), w1) << 8
                guard bits != 0 else { continue }
                while bits != 0 {
                    let lane = bits.trailingZeroBitCount
                    bits &= bits - 1
                    lists.offer(firstColumn + p * 16 + lane, distances[lane], Int32(truncatingIfNeeded: firstRow + r))
                }
                w0 = w.loadUnaligned(as: V.self)
                w1 = w.loadUnaligned(fromByteOffset: 32, as: V.self)
            }
        }
    }

    /// A sum over the tile's first row (keeps the distance-only benchmark from being elided).
    func checksum(columnCount: Int) -> Float {
        var s: Float = 0
        for p in 0..<(columnCount / 16) { for lane in 0..<16 { s += values[p * Self.side * 16 + lane] } }
        return s
    }
}
