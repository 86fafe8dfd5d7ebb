/// The tiled drivers of the kNN kernel: they walk the micro-kernel over cache-sized tiles in
/// parallel and turn the candidate lists into the exact, tie-broken answer.
enum NeighborSearch {
    /// Rows and columns per tile (a multiple of `PreparedPoints.padding`): 96 prepared rows of up
    /// to 128 Floats stay in L2 while a 16-point panel streams through L1.
    static let tileRows = 96

    /// Extra candidates kept per list beyond `k`: the approximate Gram-expansion distances may
    /// swap near-ties, so `k + slack` candidates are re-ranked on exactly recomputed distances.
    static let slack = 2

    /// The most blocks of tiles the self search schedules.
    static let maximumScheduleBlocks = 32

    /// Bytes of prepared points a block may hold and still stay in L2 while another block's
    /// tiles stream past it.
    static let blockCacheBytes = 256 << 10

    /// Blocks of tiles for a self search over `points`: two per worker, so that each round of the
    /// tournament gives every worker a block pair and the rounds (one barrier each) are few; more
    /// when a block's points would not stay in L2 (`blockCacheBytes`); at most
    /// `maximumScheduleBlocks` and one per tile. The result does not depend on it.
    static func scheduleBlocks(_ points: borrowing PreparedPoints, tiles: Int) -> Int {
        let bytes = points.paddedCount * points.depth * MemoryLayout<Float>.stride
        let cacheBlocks = (bytes + blockCacheBytes - 1) / blockCacheBytes
        return max(1, min(tiles, maximumScheduleBlocks, max(2 * Threads.count, cacheBlocks)))
    }

    /// Self search: every unordered pair is computed once, in tile (min tile, max tile), and
    /// offered to both points. The tiles are grouped into `scheduleBlocks` blocks of consecutive
    /// tiles, and the block pairs run in rounds of a round-robin tournament over the blocks (the
    /// circle method): within a round no two block pairs share a block, so they run in parallel
    /// on one shared set of lists without conflict. Round 0 holds the diagonal block pairs.
    ///
    /// Each pair's distance is computed by the same arithmetic whichever tile holds it (the
    /// micro-kernel's sums are symmetric in the two points), and each list keeps the best
    /// candidates under a total order, which does not depend on the order they arrive in: the
    /// result is the same for any thread count and schedule.
    static func selfCandidates(_ points: borrowing PreparedPoints, width: Int, alpha: Float, update: TileUpdate) -> (lists: NeighborLists, sink: Float) {
        let tiles = (points.paddedCount + tileRows - 1) / tileRows
        let blocks = scheduleBlocks(points, tiles: tiles)
        let lists = NeighborLists(count: points.paddedCount, used: points.count, width: width)
        let (rows, panels, norms) = (UncheckedSendable(points.rows!), UncheckedSendable(points.panels!), UncheckedSendable(points.norms))
        let (depth, padded) = (points.depth, points.paddedCount)
        let schedule = RoundRobin(blocks: blocks)
        let sinks = UncheckedSendable(UnsafeMutablePointer<Float>.allocate(capacity: max(1, blocks)))
        sinks.value.initialize(repeating: 0, count: max(1, blocks))
        defer { sinks.value.deallocate() }
        /// The tiles of block `b`: consecutive, sizes differing by at most one.
        func tileRange(_ b: Int) -> Range<Int> { b * tiles / blocks ..< (b + 1) * tiles / blocks }
        for round in 0..<schedule.rounds {
            let pairs = schedule.pairs(round)
            Threads.forEachBlock(count: pairs.count, blockSize: 1) { p, _ in
                let (block, columnBlock) = pairs[p]
                var sink: Float = 0
                DistanceTile.with { tile in
                    for rowTile in tileRange(block) {
                        for columnTile in tileRange(columnBlock) where columnTile >= rowTile {
                            let rowRange = rowTile * tileRows ..< min(padded, (rowTile + 1) * tileRows)
                            let columnRange = columnTile * tileRows ..< min(padded, (columnTile + 1) * tileRows)
                            let diagonal = columnTile == rowTile
                            sink += tile.compute(rows: rows.value, rowNorms: norms.value, rowRange: rowRange,
                                                 panels: panels.value, columnNorms: norms.value, columnRange: columnRange, depth: depth, alpha: alpha,
                                                 offers: update == .select ? TileOffers(lists: lists, toColumns: !diagonal, diagonal: diagonal) : nil)
                        }
                    }
                }
                sinks.value[block] += sink
            }
        }
        var total: Float = 0
        for b in 0..<blocks { total += sinks.value[b] }
        return (lists, total)
    }

    /// Query-vs-base search: each tile of queries owns its rows' lists and sweeps every panel.
    static func queryCandidates(
        _ queries: borrowing PreparedPoints, _ base: borrowing PreparedPoints, width: Int, alpha: Float, update: TileUpdate
    ) -> (lists: NeighborLists, sink: Float) {
        let lists = NeighborLists(count: queries.paddedCount, used: queries.count, width: width)
        let blocks = (queries.paddedCount + tileRows - 1) / tileRows
        let sinks = UncheckedSendable(UnsafeMutablePointer<Float>.allocate(capacity: blocks))
        defer { sinks.value.deallocate() }
        let (rows, rowNorms) = (UncheckedSendable(queries.rows!), UncheckedSendable(queries.norms))
        let (panels, columnNorms) = (UncheckedSendable(base.panels!), UncheckedSendable(base.norms))
        let (depth, padded, basePadded) = (queries.depth, queries.paddedCount, base.paddedCount)
        Threads.forEachBlock(count: blocks, blockSize: 1) { block, _ in
            var sink: Float = 0
            let rowRange = block * tileRows ..< min(padded, (block + 1) * tileRows)
            DistanceTile.with { tile in
                for firstColumn in stride(from: 0, to: basePadded, by: tileRows) {
                    sink += tile.compute(rows: rows.value, rowNorms: rowNorms.value, rowRange: rowRange,
                                         panels: panels.value, columnNorms: columnNorms.value,
                                         columnRange: firstColumn ..< min(basePadded, firstColumn + tileRows), depth: depth, alpha: alpha,
                                         offers: update == .select ? TileOffers(lists: lists, toColumns: false, diagonal: false) : nil)
                }
            }
            sinks.value[block] = sink
        }
        var total: Float = 0
        for b in 0..<blocks { total += sinks.value[b] }
        return (lists, total)
    }

    /// Rows ahead whose candidates `finish` prefetches: a list's candidates lie anywhere in the
    /// caller's rows, so their loads would otherwise stall the exact distances.
    static let finishLead = 4

    /// Recomputes the distances of each row's `width` candidates exactly in Double from the
    /// caller's rows and writes the `k` best under (exact distance, index); `candidates` are the
    /// rows the lists' indices refer to.
    static func finish(
        _ lists: NeighborLists, rows: Int, k: Int, candidates: MatrixView<Float>,
        exact: @escaping @Sendable (_ row: Int, _ neighbor: Int) -> Double,
        indices: MutableMatrixView<Int>, distances: MutableMatrixView<Float>
    ) {
        let (width, stride) = (lists.width, lists.stride)
        Threads.forEachBlock(count: rows, blockSize: 256) { _, range in
            withUnsafeTemporaryAllocation(of: (distance: Double, index: Int).self, capacity: width) { ranked in
                for i in range {
                    if case let ahead = i + finishLead, ahead < range.upperBound {
                        for e in 0..<width {
                            let j = lists.indices[ahead * stride + e]
                            if j != .max { candidates.row(Int(j)).prefetch(first: candidates.columns) }
                        }
                    }
                    // All exact distances first (independent, so their row loads overlap), then an
                    // insertion sort under (exact distance, index) in the same fixed buffer.
                    var count = 0
                    while count < width, case let j = lists.indices[i * stride + count], j != .max {
                        ranked[count] = (exact(i, Int(j)), Int(j))
                        count += 1
                    }
                    for e in 1 ..< max(1, count) {
                        let candidate = ranked[e]
                        var p = e
                        while p > 0, candidate.distance < ranked[p - 1].distance
                            || (candidate.distance == ranked[p - 1].distance && candidate.index < ranked[p - 1].index) {
                            ranked[p] = ranked[p - 1]
                            p -= 1
                        }
                        ranked[p] = candidate
                    }
                    for e in 0..<min(count, k) {
                        indices[i, e] = ranked[e].index
                        distances[i, e] = Float(ranked[e].distance)
                    }
                }
            }
        }
    }
}

/// The circle-method round-robin schedule over `blocks` blocks: round 0 pairs every block with
/// itself; each later round is a perfect matching of the blocks (one block rests when the count
/// is odd), and every unordered pair of distinct blocks appears in exactly one round.
struct RoundRobin {
    let blocks: Int
    /// Blocks rounded up to even (the extra one is the rest slot).
    private let slots: Int

    init(blocks: Int) {
        self.blocks = blocks
        slots = blocks + blocks % 2
    }

    var rounds: Int { 1 + max(0, slots - 1) }

    /// The (row block, column block) tiles of `round`, row block ≤ column block.
    func pairs(_ round: Int) -> [(Int, Int)] {
        if round == 0 { return (0..<blocks).map { ($0, $0) } }
        let r = round - 1, m = slots - 1
        var result: [(Int, Int)] = []
        func add(_ a: Int, _ b: Int) { if a < blocks && b < blocks { result.append((min(a, b), max(a, b))) } }
        add(r, m)
        for k in 1..<(slots / 2) { add((r + k) % m, (r - k + m) % m) }
        return result
    }
}
