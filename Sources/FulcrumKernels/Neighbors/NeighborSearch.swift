import Synchronization

/// The tiled drivers of the kNN kernel: they walk the micro-kernel over cache-sized tiles in
/// parallel and turn the candidate lists into the exact, tie-broken answer.
enum NeighborSearch {
    /// Rows per tile (a multiple of `PreparedPoints.padding`): 96 prepared rows of up to 128
    /// Floats stay in L2 while a 16-point panel streams through L1.
    static let tileRows = 96

    /// Extra candidates kept per list beyond `k`: the approximate Gram-expansion distances may
    /// swap near-ties, so `k + slack` candidates are re-ranked on exactly recomputed distances.
    static let slack = 4

    /// Self search: fills one set of lists per worker slot; every unordered pair is computed
    /// once, in tile (min block, max block), and offered to both points.
    static func selfCandidates(_ points: borrowing PreparedPoints, width: Int, alpha: Float, update: TileUpdate) -> (slots: [NeighborLists], sink: Float) {
        let blocks = (points.paddedCount + tileRows - 1) / tileRows
        let pool = ListPool(count: points.paddedCount, width: width)
        let (rows, panels, norms) = (UncheckedSendable(points.rows!), UncheckedSendable(points.panels!), UncheckedSendable(points.norms))
        let (depth, padded) = (points.depth, points.paddedCount)
        Threads.forEachBlock(count: blocks, blockSize: 1) { block, _ in
            let lists = pool.acquire()
            var sink = SIMD8<Float>()
            let rowRange = block * tileRows ..< min(padded, (block + 1) * tileRows)
            for columnBlock in block..<blocks {
                let diagonal = columnBlock == block
                let columnRange = columnBlock * tileRows ..< min(padded, (columnBlock + 1) * tileRows)
                for firstColumn in stride(from: columnRange.lowerBound, to: columnRange.upperBound, by: 16) {
                    let panel = panels.value + firstColumn * depth
                    for firstRow in stride(from: rowRange.lowerBound, to: rowRange.upperBound, by: 6) {
                        let overlaps = diagonal && firstRow < firstColumn + 16 && firstColumn < firstRow + 6
                        distanceMicroTile(
                            rows: rows.value + firstRow * depth, depth: depth, panel: panel,
                            rowNorms: norms.value + firstRow, columnNorms: norms.value + firstColumn, alpha: alpha,
                            firstRow: firstRow, firstColumn: firstColumn, excludeSelf: overlaps,
                            rowLists: lists, columnLists: lists,
                            update: update == .distanceOnly ? .distanceOnly : (diagonal ? .rows : .rowsAndColumns),
                            sink: &sink)
                    }
                }
            }
            pool.release(lists, sink: sink.sum())
        }
        return pool.drain()
    }

    /// Query-vs-base search: each tile of queries owns its rows' lists and sweeps every panel.
    static func queryCandidates(
        _ queries: borrowing PreparedPoints, _ base: borrowing PreparedPoints, width: Int, alpha: Float, update: TileUpdate
    ) -> (lists: NeighborLists, sink: Float) {
        let lists = NeighborLists(count: queries.paddedCount, width: width)
        let blocks = (queries.paddedCount + tileRows - 1) / tileRows
        let sinks = UncheckedSendable(UnsafeMutablePointer<Float>.allocate(capacity: blocks))
        defer { sinks.value.deallocate() }
        let (rows, rowNorms) = (UncheckedSendable(queries.rows!), UncheckedSendable(queries.norms))
        let (panels, columnNorms) = (UncheckedSendable(base.panels!), UncheckedSendable(base.norms))
        let (depth, padded, basePadded) = (queries.depth, queries.paddedCount, base.paddedCount)
        Threads.forEachBlock(count: blocks, blockSize: 1) { block, _ in
            var sink = SIMD8<Float>()
            let rowRange = block * tileRows ..< min(padded, (block + 1) * tileRows)
            for firstColumn in stride(from: 0, to: basePadded, by: 16) {
                let panel = panels.value + firstColumn * depth
                for firstRow in stride(from: rowRange.lowerBound, to: rowRange.upperBound, by: 6) {
                    distanceMicroTile(
                        rows: rows.value + firstRow * depth, depth: depth, panel: panel,
                        rowNorms: rowNorms.value + firstRow, columnNorms: columnNorms.value + firstColumn, alpha: alpha,
                        firstRow: firstRow, firstColumn: firstColumn, excludeSelf: false,
                        rowLists: lists, columnLists: lists, update: update, sink: &sink)
                }
            }
            sinks.value[block] = sink.sum()
        }
        var total: Float = 0
        for b in 0..<blocks { total += sinks.value[b] }
        return (lists, total)
    }

    /// Merges the lists of every slot for each row, keeps the best `width` candidates under the
    /// approximate distances (a set that does not depend on how pairs were spread over slots),
    /// recomputes their distances exactly in Double from the caller's rows, and writes the `k`
    /// best under (exact distance, index).
    static func finish(
        _ slots: [NeighborLists], rows: Int, width: Int, k: Int,
        exact: @escaping @Sendable (_ row: Int, _ neighbor: Int) -> Double,
        indices: MutableMatrixView<Int>, distances: MutableMatrixView<Float>
    ) {
        Threads.forEachBlock(count: rows, blockSize: 256) { _, range in
            var merged = [(distance: Float, index: Int32)]()
            var ranked = [(distance: Double, index: Int)]()
            merged.reserveCapacity(width)
            for i in range {
                merged.removeAll(keepingCapacity: true)
                for slot in slots {
                    for e in 0..<width {
                        let candidate = (slot.distances[i * width + e], slot.indices[i * width + e])
                        if candidate.1 == .max { break }
                        insertBounded(&merged, candidate, limit: width) { a, b in a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }
                    }
                }
                ranked.removeAll(keepingCapacity: true)
                for candidate in merged {
                    let j = Int(candidate.index)
                    insertBounded(&ranked, (exact(i, j), j), limit: k) { a, b in a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }
                }
                for (e, entry) in ranked.enumerated() {
                    indices[i, e] = entry.index
                    distances[i, e] = Float(entry.distance)
                }
            }
        }
    }
}

/// Inserts `element` into the sorted `array`, keeping at most `limit` elements.
@inline(__always)
func insertBounded<E>(_ array: inout [E], _ element: E, limit: Int, by less: (E, E) -> Bool) {
    if array.count == limit {
        guard let last = array.last, less(element, last) else { return }
        array.removeLast()
    }
    var p = array.count
    while p > 0 && less(element, array[p - 1]) { p -= 1 }
    array.insert(element, at: p)
}

/// The per-worker candidate lists of a self search: a worker takes a set at the start of a
/// block and returns it at the end, so no two running blocks share one.
final class ListPool: Sendable {
    private let state = Mutex<(free: [NeighborLists], all: [NeighborLists], sink: Float)>(([], [], 0))
    private let count: Int, width: Int

    init(count: Int, width: Int) {
        self.count = count
        self.width = width
    }

    func acquire() -> NeighborLists {
        if let lists = state.withLock({ $0.free.popLast() }) { return lists }
        let lists = NeighborLists(count: count, width: width)
        state.withLock { $0.all.append(lists) }
        return lists
    }

    /// Returns `lists`; `sink` is added to the distance-only checksum (order-dependent only in
    /// that mode, which the benchmark uses for timing, never for results).
    func release(_ lists: NeighborLists, sink: Float) {
        state.withLock {
            $0.free.append(lists)
            $0.sink += sink
        }
    }

    func drain() -> (slots: [NeighborLists], sink: Float) {
        state.withLock { ($0.all, $0.sink) }
    }
}
