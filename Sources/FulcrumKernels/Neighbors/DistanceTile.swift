/// Where the distances of a tile go in a search: the lists they are offered to.
struct TileOffers {
    let lists: NeighborLists
    /// Each distance is also offered to its column's list (an off-diagonal tile of a self
    /// search, which computes each unordered pair once for both points).
    let toColumns: Bool
    /// A diagonal tile of a self search: row `r` and column `r` are the same point, which is
    /// never its own candidate.
    let diagonal: Bool
}

/// The distance pass of one tile, up to `NeighborSearch.tileRows` rows × `tileRows` columns,
/// with the top-k selection screened block by block.
///
/// The tile is computed in 6 × 16 blocks by the micro-kernel, each into one reused 384-byte
/// scratch block that stays in L1. The micro-kernel compares each block, still in registers,
/// with its rows' and columns' list thresholds; only a block holding a distance that can enter
/// a list is read back, and only its passing lanes (sixteen per vector compare) reach the scalar
/// insertion (`NeighborLists.offer`). Once the lists have filled, nearly every block is
/// rejected by that one screen, so selection costs little beyond the distance FLOPs.
struct DistanceTile {
    /// One 6 × 16 block of distances, row `r` at `block + 16 · r`.
    let block: UnsafeMutablePointer<Float>
    static let side = NeighborSearch.tileRows

    /// Runs `body` with a fresh tile (one allocation per call).
    static func with<R>(_ body: (DistanceTile) -> R) -> R {
        let block = UnsafeMutableRawPointer.allocate(byteCount: 6 * 16 * 4, alignment: 64).bindMemory(to: Float.self, capacity: 6 * 16)
        defer { UnsafeMutableRawPointer(block).deallocate() }
        return body(DistanceTile(block: block))
    }

    /// Computes the distances of prepared rows `rowRange` (of `rows`) to panel points
    /// `columnRange` (of `panels`) and offers them to `offers`' lists; both ranges are multiples
    /// of 48 long and start at multiples of 48 (see `PreparedPoints.padding`). Without `offers`
    /// (the distance work alone) it returns a sum of one distance per block, so that the work
    /// is not elided; with them, 0.
    @inline(__always)
    func compute(
        rows: UnsafePointer<Float>, rowNorms: UnsafePointer<Float>, rowRange: Range<Int>,
        panels: UnsafePointer<Float>, columnNorms: UnsafePointer<Float>, columnRange: Range<Int>,
        depth: Int, alpha: Float, offers: TileOffers?
    ) -> Float {
        var sink: Float = 0
        let worst = offers.map { UnsafePointer($0.lists.worst) }
        for firstColumn in stride(from: columnRange.lowerBound, to: columnRange.upperBound, by: 16) {
            let panel = panels + firstColumn * depth
            let columnLimits = offers?.toColumns == true ? worst.map { $0 + firstColumn } : nil
            for firstRow in stride(from: rowRange.lowerBound, to: rowRange.upperBound, by: 6) {
                let hit = distanceMicroTile(
                    rows: rows + firstRow * depth, depth: depth, panel: panel,
                    rowNorms: rowNorms + firstRow, columnNorms: columnNorms + firstColumn, alpha: alpha,
                    into: block, rowStride: 16, rowLimits: worst.map { $0 + firstRow }, columnLimits: columnLimits)
                if hit, let offers {
                    offerBlock(offers, firstRow: firstRow, firstColumn: firstColumn)
                } else if offers == nil {
                    sink += block[0]
                }
            }
        }
        return sink
    }

    /// Offers the block's distances to the lists: row `r`'s to list `firstRow + r` (candidate
    /// `firstColumn + c`), and with `toColumns` column `c`'s to list `firstColumn + c`
    /// (candidate `firstRow + r`). The passing lanes of all six rows are gathered into one bit
    /// set per direction first, so that a block costs one unpredictable loop exit per direction
    /// rather than one per row; `NeighborLists.offer` rechecks each against the current list.
    private func offerBlock(_ offers: TileOffers, firstRow: Int, firstColumn: Int) {
        typealias V = SIMD8<Float>
        let lists = offers.lists
        let w = UnsafeRawPointer(lists.worst + firstColumn)
        let (w0, w1) = (w.loadUnaligned(as: V.self), w.loadUnaligned(fromByteOffset: 32, as: V.self))
        var toRows: UInt128 = 0, toColumns: UInt128 = 0
        for r in 0..<6 {
            let row = UnsafeRawPointer(block + r * 16)
            let (d0, d1) = (row.loadUnaligned(as: V.self), row.loadUnaligned(fromByteOffset: 32, as: V.self))
            let limit = V(repeating: lists.worst[firstRow + r])
            toRows |= UInt128(lanesLessEqual(d0, limit) | lanesLessEqual(d1, limit) << 8) << (16 * r)
            toColumns |= UInt128(lanesLessEqual(d0, w0) | lanesLessEqual(d1, w1) << 8) << (16 * r)
        }
        if offers.diagonal {
            // Row r of a diagonal tile's block is point firstRow + r, column lane c point firstColumn + c.
            for r in 0..<6 where firstRow + r - firstColumn >= 0 && firstRow + r - firstColumn < 16 {
                toRows &= ~(UInt128(1) << (16 * r + firstRow + r - firstColumn))
            }
        }
        while toRows != 0 {
            let bit = toRows.trailingZeroBitCount
            toRows &= toRows - 1
            let (r, lane) = (bit >> 4, bit & 15)
            lists.offer(firstRow + r, block[bit], Int32(truncatingIfNeeded: firstColumn + lane))
        }
        guard offers.toColumns else { return }
        while toColumns != 0 {
            let bit = toColumns.trailingZeroBitCount
            toColumns &= toColumns - 1
            let (r, lane) = (bit >> 4, bit & 15)
            lists.offer(firstColumn + lane, block[bit], Int32(truncatingIfNeeded: firstRow + r))
        }
    }
}
